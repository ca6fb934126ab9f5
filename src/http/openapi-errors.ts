import { ErrorSchema } from "../lib/schemas";

const descriptions = {
  400: "Validation failed or the body is not valid JSON",
  401: "Missing, invalid, expired or disabled credentials",
  403: "The principal lacks a permission, or the plan has no API access",
  404: "Not found (also for another account's ids)",
  409: "Conflict with the current state",
  413: "Request body over 64 KiB",
  415: "Request body is not application/json",
  429: "Rate limited",
} as const;

type ErrorStatus = keyof typeof descriptions;

/** The shared error responses, spread into each `createRoute({ responses })`. */
export function errorResponses(...statuses: ErrorStatus[]) {
  const all: ErrorStatus[] = [401, 403, 429, ...statuses];
  return Object.fromEntries(
    all.map((s) => [s, { description: descriptions[s], content: { "application/json": { schema: ErrorSchema } } }]),
  ) as Record<ErrorStatus, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }>;
}

export const jsonBody = <T>(schema: T, required = true) => ({
  required,
  content: { "application/json": { schema } },
});

export const jsonResponse = <T>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

/** Every authenticated route accepts a bearer token (key, JWT or operator) or the `X-API-Key` header. */
export const security: Record<string, string[]>[] = [{ bearer: [] }, { apiKey: [] }];

import { z } from "@hono/zod-openapi";
import { ApiError, ERROR_CODES } from "./errors";

/** The one error shape, referenced by every route's error responses. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z
        .enum(ERROR_CODES)
        .openapi({ description: "One of Keyhook's error codes (the table in the README)", example: "not_found" }),
      message: z.string(),
      details: z.unknown().optional(),
      requestId: z.string(),
    }),
  })
  .openapi("Error");

export const IdParams = z.object({ id: z.string().min(1).max(100) });

/** Who did something (`system`: Keyhook itself). */
export const ActorSchema = z.object({
  type: z.enum(["operator", "user", "api_key", "oauth", "portal", "system"]),
  id: z.string(),
  name: z.string(),
});

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(100).optional(),
});

/** Fetch one extra row to know whether another page exists; the cursor is the last id shown. */
export function page<T extends { id: string }>(rows: T[], limit: number) {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
}

export const Timestamp = z.string().datetime().openapi({ example: "2026-11-23T12:00:00.000Z" });
export const iso = (ms: number) => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

/** Throws the same 404 for "missing" and "another account's": existence never leaks across accounts. */
export function found<T>(row: T | undefined, what: string): T {
  if (row === undefined) throw new ApiError("not_found", `${what} not found`);
  return row;
}

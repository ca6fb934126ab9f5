import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, jsonBody, jsonResponse, security } from "../../lib/openapi-errors";
import { PERMISSION_PATTERN } from "../../lib/permissions";
import { ActorSchema, IdParams, PageQuery, Timestamp } from "../../lib/schemas";
import { authenticate, requireAccount, requireScope } from "../../middleware/auth";
import { hourlyLimit } from "../accounts/accounts.routes";
import { MAX_CREDITS } from "./credits";

const tags = ["API keys"];
const reader = [authenticate, requireScope("keys:read"), requireAccount];
const writer = [authenticate, requireScope("keys:write"), requireAccount];

const MAX_GRACE_SECONDS = 7 * 24 * 3600;

const Scopes = z
  .array(z.string().regex(PERMISSION_PATTERN, "must be resource:action, resource:*, * or impersonate"))
  .max(100)
  .openapi({ example: ["keys:read", "audits:read"] });

const Metadata = z
  .record(z.string(), z.unknown())
  .refine((m) => JSON.stringify(m).length <= 1024, "metadata must be at most 1 KiB as JSON")
  .openapi({ example: { team: "platform" } });

const creditCount = z.number().int().min(0).max(MAX_CREDITS);

const Refill = z
  .strictObject({
    interval: z.enum(["daily", "monthly"]),
    amount: creditCount.min(1).openapi({ description: "What the remaining count is set to at each refill" }),
    dayOfMonth: z.number().int().min(1).max(31).optional().openapi({
      description: "Monthly: the day (default 1; the month's last day when it is shorter), at 00:00 UTC",
    }),
  })
  .refine((r) => r.interval === "monthly" || r.dayOfMonth === undefined, {
    message: "dayOfMonth is for monthly refills",
    path: ["dayOfMonth"],
  })
  .openapi("CreditsRefill");

export const CreditsInput = z
  .strictObject({
    remaining: creditCount.openapi({ example: 1000 }),
    refill: Refill.nullable().optional(),
    lowThreshold: creditCount.optional().openapi({
      description: "`api_key.credits_low` goes out when a request leaves this many or fewer (default 10 %)",
    }),
  })
  .openapi("CreditsInput");

const Credits = z
  .object({
    remaining: z.number(),
    refill: z
      .object({ interval: z.enum(["daily", "monthly"]), amount: z.number(), dayOfMonth: z.number().optional() })
      .nullable(),
    lowThreshold: z.number(),
    nextRefillAt: Timestamp.nullable(),
  })
  .openapi("Credits", { description: "Usage credits: every request spends 1 (verify: `cost`); null = unlimited" });

export const ApiKey = z
  .object({
    id: z.string().openapi({ example: "key_01jd8x0000AbCdEfGhIjKlMn" }),
    name: z.string(),
    prefix: z.string().openapi({ example: "kh_live_Ab3x" }),
    last4: z.string().openapi({ example: "9fQz" }),
    scopes: z.array(z.string()).nullable().openapi({
      description: "The key's own. null = neither scopes nor a profile: full access (legacy); [] = none of its own",
    }),
    profileId: z.string().nullable(),
    permissions: z.array(z.string()).openapi({ description: "Effective: scopes plus the profile's" }),
    badges: z.array(z.enum(["no_permissions", "can_impersonate", "read_only"])),
    enabled: z.boolean(),
    rateLimitPerHour: z.number().nullable().openapi({ description: "null = the plan's default" }),
    credits: Credits.nullable(),
    metadata: z.record(z.string(), z.unknown()),
    createdBy: ActorSchema,
    createdAt: Timestamp,
    updatedAt: Timestamp,
    lastUsedAt: Timestamp.nullable(),
    expiresAt: Timestamp.nullable(),
  })
  .openapi("ApiKey");

const futureInstant = z.iso
  .datetime({ offset: true })
  .refine((s) => Date.parse(s) > Date.now(), "must be in the future");

export const CreateKeyBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100).openapi({ example: "CI/CD Pipeline" }),
    scopes: Scopes.optional(),
    profileId: z.string().min(1).max(100).optional(),
    expiresInDays: z.number().int().min(1).max(3650).optional(),
    expiresAt: futureInstant.optional(),
    rateLimitPerHour: hourlyLimit.optional(),
    credits: CreditsInput.nullable().optional(),
    metadata: Metadata.optional(),
  })
  .refine((b) => b.expiresInDays === undefined || b.expiresAt === undefined, {
    message: "give expiresInDays or expiresAt, not both",
    path: ["expiresAt"],
  });

export const UpdateKeyBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100).optional(),
    scopes: Scopes.nullable().optional(),
    profileId: z.string().min(1).max(100).nullable().optional(),
    expiresInDays: z.number().int().min(1).max(3650).optional(),
    expiresAt: futureInstant.nullable().optional(),
    rateLimitPerHour: hourlyLimit.nullable().optional(),
    credits: CreditsInput.nullable().optional().openapi({ description: "null removes the key's credits (unlimited)" }),
    metadata: Metadata.optional(),
    enabled: z.boolean().optional(),
  })
  .refine((b) => b.expiresInDays === undefined || b.expiresAt === undefined, {
    message: "give expiresInDays or expiresAt, not both",
    path: ["expiresAt"],
  });

export const AdjustCreditsBody = z
  .strictObject({
    op: z.enum(["set", "increment", "decrement"]),
    amount: creditCount,
  })
  .openapi("AdjustCredits");

export const RotateKeyBody = z.strictObject({
  gracePeriodSeconds: z.number().int().min(0).max(MAX_GRACE_SECONDS).default(0),
});

const KeyEnvelope = z.object({ apiKey: ApiKey });
const KeyWithSecret = z.object({
  apiKey: ApiKey,
  key: z.string().openapi({ description: "The secret: shown only in this answer", example: "kh_live_…" }),
});

export const create = createRoute({
  method: "post",
  path: "/v1/api-keys",
  operationId: "createApiKey",
  summary: "Create an API key",
  tags,
  security,
  middleware: writer,
  request: { body: jsonBody(CreateKeyBody) },
  responses: { 201: jsonResponse(KeyWithSecret, "The key and its secret"), ...errorResponses(400, 404, 409, 413, 415) },
});

export const list = createRoute({
  method: "get",
  path: "/v1/api-keys",
  operationId: "listApiKeys",
  summary: "List API keys",
  tags,
  security,
  middleware: reader,
  request: { query: PageQuery },
  responses: {
    200: jsonResponse(z.object({ apiKeys: z.array(ApiKey), nextCursor: z.string().nullable() }), "Keys, newest first"),
    ...errorResponses(400, 404),
  },
});

export const get = createRoute({
  method: "get",
  path: "/v1/api-keys/{id}",
  operationId: "getApiKey",
  summary: "Get an API key",
  tags,
  security,
  middleware: reader,
  request: { params: IdParams },
  responses: { 200: jsonResponse(KeyEnvelope, "The key"), ...errorResponses(400, 404) },
});

export const update = createRoute({
  method: "patch",
  path: "/v1/api-keys/{id}",
  operationId: "updateApiKey",
  summary: "Update an API key",
  tags,
  security,
  middleware: writer,
  request: { params: IdParams, body: jsonBody(UpdateKeyBody) },
  responses: { 200: jsonResponse(KeyEnvelope, "The key"), ...errorResponses(400, 404, 413, 415) },
});

export const revoke = createRoute({
  method: "delete",
  path: "/v1/api-keys/{id}",
  operationId: "revokeApiKey",
  summary: "Revoke an API key",
  tags,
  security,
  middleware: writer,
  request: { params: IdParams },
  responses: { 200: jsonResponse(z.object({ success: z.literal(true) }), "Revoked"), ...errorResponses(400, 404) },
});

export const rotate = createRoute({
  method: "post",
  path: "/v1/api-keys/{id}/rotate",
  operationId: "rotateApiKey",
  summary: "Rotate an API key's secret",
  tags,
  security,
  middleware: writer,
  request: { params: IdParams, body: jsonBody(RotateKeyBody, false) },
  responses: { 200: jsonResponse(KeyWithSecret, "The key and its new secret"), ...errorResponses(400, 404, 413, 415) },
});

const HourlyUsage = z.array(z.object({ hour: Timestamp, requests: z.number().int() })).openapi({
  description: "Requests per clock hour over the last 48 hours, oldest first",
});

/**
 * Not `/v1/api-keys/usage`: a static segment beside `/v1/api-keys/{id}` makes Hono give up its
 * RegExpRouter for the slower TrieRouter on every request (a test holds it to the RegExpRouter).
 */
export const usageOfMany = createRoute({
  method: "get",
  path: "/v1/api-key-usage",
  operationId: "listApiKeysUsage",
  summary: "Hourly usage of several API keys",
  tags,
  security,
  middleware: reader,
  request: {
    query: z.object({
      ids: z
        .string()
        .max(100 * 40)
        .transform((s) => s.split(",").filter(Boolean))
        .pipe(z.array(z.string().min(1).max(100)).min(1).max(100))
        .openapi({
          description: "Comma-separated key ids (at most 100): a page of the list",
          example: "key_01…,key_02…",
        }),
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({ keys: z.array(z.object({ keyId: z.string(), usage: HourlyUsage })) }),
      "Each live key of the account among the ids, with its hourly counts (other ids are left out)",
    ),
    ...errorResponses(400, 404),
  },
});

export const usage = createRoute({
  method: "get",
  path: "/v1/api-keys/{id}/usage",
  operationId: "getApiKeyUsage",
  summary: "Hourly usage of an API key",
  tags,
  security,
  middleware: reader,
  request: { params: IdParams },
  responses: {
    200: jsonResponse(
      z.object({
        keyId: z.string(),
        usage: HourlyUsage,
      }),
      "Hourly request counts",
    ),
    ...errorResponses(400, 404),
  },
});

export const adjustCredits = createRoute({
  method: "post",
  path: "/v1/api-keys/{id}/credits",
  operationId: "adjustApiKeyCredits",
  summary: "Set, increase or decrease a key's usage credits",
  description:
    "`set` gives the key exactly `amount` (and credits, if it had none); `increment` and `decrement` change what is left at once, atomically with the requests spending it (never below 0).",
  tags,
  security,
  middleware: writer,
  request: { params: IdParams, body: jsonBody(AdjustCreditsBody) },
  responses: { 200: jsonResponse(KeyEnvelope, "The key"), ...errorResponses(400, 404, 409, 413, 415) },
});

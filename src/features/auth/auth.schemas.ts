import { z } from "@hono/zod-openapi";
import { VERIFY_CODES } from "../../lib/errors";
import { PERMISSION_PATTERN } from "../../lib/permissions";
import { Timestamp } from "../../lib/schemas";
import { MAX_COST } from "../keys/credits";

export const Whoami = z
  .object({
    type: z.enum(["operator", "user", "api_key", "oauth", "portal"]),
    id: z.string(),
    name: z.string(),
    accountId: z.string().nullable(),
    permissions: z.array(z.string()),
    onBehalfOf: z
      .object({ type: z.literal("user"), id: z.string() })
      .nullable()
      .openapi({ description: "The user an impersonating key acts as (X-Act-As), or who authorized an OAuth client" }),
  })
  .openapi("Whoami");

export const VerifyBody = z.strictObject({
  key: z.string().min(1).max(512).openapi({ example: "kh_live_…", description: "An API key or an OAuth access token" }),
  scopes: z.array(z.string().regex(PERMISSION_PATTERN)).max(100).optional(),
  cost: z.number().int().min(0).max(MAX_COST).optional().openapi({
    description: "Usage credits to spend (default 1; 0 checks that some are left without spending)",
  }),
});

export const VerifyResult = z
  .object({
    valid: z.boolean(),
    code: z.enum(VERIFY_CODES),
    keyId: z.string().nullable(),
    accountId: z.string().nullable(),
    name: z.string().nullable(),
    scopes: z.array(z.string()).nullable().openapi({ description: "The key's effective permissions" }),
    ratelimit: z
      .object({ limit: z.number(), remaining: z.number(), reset: z.number().openapi({ description: "Unix seconds" }) })
      .nullable(),
    credits: z
      .object({ remaining: z.number(), nextRefillAt: Timestamp.nullable() })
      .nullable()
      .openapi({ description: "Keys with usage credits: what is left after this verification" }),
    expiresAt: Timestamp.nullable(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    oauth: z.object({ clientId: z.string(), userId: z.string().nullable() }).nullable().openapi({
      description: "An OAuth access token: its client, and the user it acts for (null: the client itself)",
    }),
  })
  .openapi("VerifyResult");

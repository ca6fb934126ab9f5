import { z } from "@hono/zod-openapi";
import { PERMISSION_PATTERN } from "../../lib/permissions";
import { ActorSchema, Timestamp } from "../../lib/schemas";
import { hourlyLimit } from "../accounts/accounts.schemas";
import { MAX_CREDITS } from "./credits";

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

export const KeyEnvelope = z.object({ apiKey: ApiKey });
export const KeyWithSecret = z.object({
  apiKey: ApiKey,
  key: z.string().openapi({ description: "The secret: shown only in this answer", example: "kh_live_…" }),
});

export const HourlyUsage = z.array(z.object({ hour: Timestamp, requests: z.number().int() })).openapi({
  description: "Requests per clock hour over the last 48 hours, oldest first",
});

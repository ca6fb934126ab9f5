import { z } from "@hono/zod-openapi";
import { Timestamp } from "../../lib/schemas";
import { EventTypeName } from "../events/events.schemas";
import { Filter } from "./filter";

const MAX_OVERLAP_SECONDS = 7 * 24 * 3600;

const Events = z
  .array(z.union([z.literal("*"), EventTypeName]))
  .min(1)
  .max(100)
  .refine((e) => !e.includes("*") || e.length === 1, 'use ["*"] alone for all events')
  .openapi({ example: ["issue.resolved", "api_key.revoked"] });

const Url = z.string().max(2048).openapi({ example: "https://example.com/webhooks/keyhook" });
const Secret = z
  .string()
  .min(24, "a signing secret must be at least 24 characters")
  .max(256)
  .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces")
  .openapi({
    description: "Your own: a `whsec_…` HMAC secret (`v1`), or a `whsk_…` Ed25519 signing key (`v1a`)",
    example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  });
const Scheme = z.enum(["v1", "v1a"]).openapi({
  description:
    "How deliveries are signed (Standard Webhooks): `v1` HMAC-SHA256 with a shared secret, or `v1a` Ed25519 — the receiver holds only the public key `whpk_…`",
});

export const Webhook = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    filter: Filter.nullable(),
    description: z.string().nullable(),
    status: z.enum(["active", "disabled"]),
    disabledReason: z.string().nullable(),
    lastSuccessAt: Timestamp.nullable(),
    lastAttempt: z
      .object({ at: Timestamp, status: z.number().int().nullable(), succeeded: z.boolean() })
      .nullable()
      .openapi({ description: "The latest delivery attempt" }),
    failingSince: Timestamp.nullable(),
    signatureScheme: Scheme,
    previousSecretExpiresAt: Timestamp.nullable().openapi({ description: "End of a rotation's overlap" }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("Webhook");

export const CreateWebhookBody = z.strictObject({
  url: Url,
  events: Events,
  filter: Filter.optional(),
  secret: Secret.optional(),
  signatureScheme: Scheme.optional().openapi({ description: "Default `v1`, or the scheme of `secret` when given" }),
  description: z.string().max(500).optional(),
});

export const UpdateWebhookBody = z.strictObject({
  url: Url.optional(),
  events: Events.optional(),
  filter: Filter.nullable().optional(),
  status: z.enum(["active", "disabled"]).optional(),
  description: z.string().max(500).nullable().optional(),
});

export const RotateSecretBody = z.strictObject({
  overlapSeconds: z.number().int().min(0).max(MAX_OVERLAP_SECONDS).optional(),
  secret: Secret.optional(),
  signatureScheme: Scheme.optional().openapi({
    description:
      "Switch schemes with the rotation (the overlap signs with both, so receivers can move over); default: the webhook's own, or that of `secret`",
  }),
});

export const Envelope = z.object({ webhook: Webhook });
export const WithSecret = z.object({
  webhook: Webhook,
  secret: z.string().openapi({
    description:
      "What the receiver verifies with: the `whsec_…` secret (`v1`), or the public key `whpk_…` (`v1a`; the signing key stays in Keyhook)",
  }),
});

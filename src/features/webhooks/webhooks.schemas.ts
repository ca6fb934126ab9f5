import { z } from "@hono/zod-openapi";
import { Timestamp } from "../../lib/schemas";
import { EventTypeName } from "../events/events.schemas";
import { CustomHeaders } from "./custom-headers";
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
const Throttle = z.number().int().min(1).max(1000).openapi({
  description:
    "At most this many deliveries a second to this endpoint; more wait their turn (in order of publication) without holding back any other endpoint",
  example: 10,
});
const TimeoutMs = z.number().int().min(1000).max(60_000).openapi({
  description: "How long an attempt waits for this endpoint's answer: at most the deployment's `WEBHOOK_TIMEOUT_MS`",
  example: 5000,
});

const DeliveryFormat = z.enum(["envelope", "raw"]).openapi({
  description:
    "A delivery's body: `envelope` (`{id, event, accountId, occurredAt, entity}`, the default) or `raw` (the entity alone, byte for byte as published: what a Svix receiver expects). Either way the request carries `webhook-*` and `svix-*` headers with the same id, timestamp and signatures",
});

const Uid = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[a-zA-Z0-9\-_.]+$/, "letters, digits, -, _ and . only")
  .openapi({
    description: "Your own name for this endpoint (Svix's `uid`), unique in the account",
    example: "orders-prod",
  });
const Channels = z
  .array(z.string().min(1).max(128))
  .max(10)
  .openapi({
    description:
      "Receives only events published to at least one of these channels (Svix's channels); without, every event its types and filter match",
    example: ["project-123"],
  });
const Metadata = z
  .record(z.string().max(256), z.string().max(2048))
  .refine((m) => Object.keys(m).length <= 50, "at most 50 pairs")
  .openapi({ description: "Your own string pairs, kept and shown, never read", example: { team: "billing" } });

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
    headerNames: z
      .array(z.string())
      .openapi({ description: "The custom headers sent (their values: `GET …/headers`)" }),
    throttle: Throttle.nullable(),
    timeoutMs: TimeoutMs.nullable().openapi({ description: "null: the deployment's timeout" }),
    deliveryFormat: DeliveryFormat,
    uid: Uid.nullable(),
    channels: Channels.nullable(),
    metadata: z.record(z.string(), z.string()),
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
  headers: CustomHeaders.optional(),
  throttle: Throttle.optional(),
  timeoutMs: TimeoutMs.optional(),
  deliveryFormat: DeliveryFormat.optional(),
  uid: Uid.optional(),
  channels: Channels.optional(),
  metadata: Metadata.optional(),
});

export const UpdateWebhookBody = z.strictObject({
  url: Url.optional(),
  events: Events.optional(),
  filter: Filter.nullable().optional(),
  status: z.enum(["active", "disabled"]).optional(),
  description: z.string().max(500).nullable().optional(),
  headers: CustomHeaders.nullable().optional().openapi({ description: "Replaces them all; null or {} removes them" }),
  throttle: Throttle.nullable().optional().openapi({ description: "null: unthrottled" }),
  timeoutMs: TimeoutMs.nullable().optional().openapi({ description: "null: the deployment's" }),
  deliveryFormat: DeliveryFormat.optional(),
  uid: Uid.nullable().optional(),
  channels: Channels.nullable().optional().openapi({ description: "null: none (every matching event)" }),
  metadata: Metadata.optional(),
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
export const HeadersEnvelope = z.object({ headers: z.record(z.string(), z.string()) });
export const WithSecret = z.object({
  webhook: Webhook,
  secret: z.string().openapi({
    description:
      "What the receiver verifies with: the `whsec_…` secret (`v1`), or the public key `whpk_…` (`v1a`; the signing key stays in Keyhook)",
  }),
});

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
  .openapi({ example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" });

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
});

export const Envelope = z.object({ webhook: Webhook });
export const WithSecret = z.object({ webhook: Webhook, secret: z.string() });

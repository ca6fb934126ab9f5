import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, jsonBody, jsonResponse, security } from "../../lib/openapi-errors";
import { IdParams, PageQuery, Timestamp } from "../../lib/schemas";
import { authenticate, requireAccount, requireScope } from "../../middleware/auth";
import { EventTypeName } from "../events/events.routes";
import { Filter } from "./filter";

const tags = ["Webhooks"];
const reader = [authenticate, requireScope("webhooks:read"), requireAccount];
const writer = [authenticate, requireScope("webhooks:write"), requireAccount];
export const MAX_OVERLAP_SECONDS = 7 * 24 * 3600;

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

const Envelope = z.object({ webhook: Webhook });
const WithSecret = z.object({ webhook: Webhook, secret: z.string() });
const route = <T extends object>(r: T) => ({ tags, security, ...r });

export const create = createRoute(
  route({
    method: "post" as const,
    path: "/v1/webhooks",
    operationId: "createWebhook",
    summary: "Create a webhook",
    middleware: writer,
    request: { body: jsonBody(CreateWebhookBody) },
    responses: {
      201: jsonResponse(WithSecret, "The webhook and its secret"),
      ...errorResponses(400, 404, 409, 413, 415),
    },
  }),
);

export const list = createRoute(
  route({
    method: "get" as const,
    path: "/v1/webhooks",
    operationId: "listWebhooks",
    summary: "List webhooks",
    middleware: reader,
    request: { query: PageQuery },
    responses: {
      200: jsonResponse(z.object({ webhooks: z.array(Webhook), nextCursor: z.string().nullable() }), "Webhooks"),
      ...errorResponses(400, 404),
    },
  }),
);

export const get = createRoute(
  route({
    method: "get" as const,
    path: "/v1/webhooks/{id}",
    operationId: "getWebhook",
    summary: "Get a webhook",
    middleware: reader,
    request: { params: IdParams },
    responses: { 200: jsonResponse(Envelope, "The webhook"), ...errorResponses(400, 404) },
  }),
);

export const update = createRoute(
  route({
    method: "patch" as const,
    path: "/v1/webhooks/{id}",
    operationId: "updateWebhook",
    summary: "Update a webhook",
    middleware: writer,
    request: { params: IdParams, body: jsonBody(UpdateWebhookBody) },
    responses: { 200: jsonResponse(Envelope, "The webhook"), ...errorResponses(400, 404, 413, 415) },
  }),
);

export const remove = createRoute(
  route({
    method: "delete" as const,
    path: "/v1/webhooks/{id}",
    operationId: "deleteWebhook",
    summary: "Delete a webhook",
    middleware: writer,
    request: { params: IdParams },
    responses: { 200: jsonResponse(z.object({ success: z.literal(true) }), "Deleted"), ...errorResponses(400, 404) },
  }),
);

export const secret = createRoute(
  route({
    method: "get" as const,
    path: "/v1/webhooks/{id}/secret",
    operationId: "getWebhookSecret",
    summary: "Reveal a webhook's signing secret",
    middleware: writer,
    request: { params: IdParams },
    responses: {
      200: jsonResponse(z.object({ secret: z.string() }), "The signing secret"),
      ...errorResponses(400, 404),
    },
  }),
);

export const rotateSecret = createRoute(
  route({
    method: "post" as const,
    path: "/v1/webhooks/{id}/rotate-secret",
    operationId: "rotateWebhookSecret",
    summary: "Rotate a webhook's signing secret",
    middleware: writer,
    request: { params: IdParams, body: jsonBody(RotateSecretBody, false) },
    responses: { 200: jsonResponse(WithSecret, "The new secret"), ...errorResponses(400, 404, 413, 415) },
  }),
);

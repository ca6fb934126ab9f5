import { createRoute, z } from "@hono/zod-openapi";
import { authenticate, requireAccount, requireScope } from "../../http/middleware/auth";
import { errorResponses, jsonBody, jsonResponse, security } from "../../http/openapi-errors";
import { IdParams, PageQuery } from "../../lib/schemas";
import {
  CreateWebhookBody,
  Envelope,
  HeadersEnvelope,
  RotateSecretBody,
  UpdateWebhookBody,
  Webhook,
  WithSecret,
} from "./webhooks.schemas";

const tags = ["Webhooks"];
const reader = [authenticate, requireScope("webhooks:read"), requireAccount];
const writer = [authenticate, requireScope("webhooks:write"), requireAccount];
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

export const headers = createRoute(
  route({
    method: "get" as const,
    path: "/v1/webhooks/{id}/headers",
    operationId: "getWebhookHeaders",
    summary: "Reveal a webhook's custom headers",
    description: "The values too (the webhook itself shows the names only): they may be credentials.",
    middleware: writer,
    request: { params: IdParams },
    responses: { 200: jsonResponse(HeadersEnvelope, "The custom headers"), ...errorResponses(400, 404) },
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

import { createRoute, z } from "@hono/zod-openapi";
import { authenticate, requireAccount, requireScope } from "../../http/middleware/auth";
import { errorResponses, jsonBody, jsonResponse, security } from "../../http/openapi-errors";
import { IdParams } from "../../lib/schemas";
import { DeliverySummary, Event, EventType, EventTypeName, PublishBody, RegisterEventTypeBody } from "./events.schemas";

export const publish = createRoute({
  method: "post",
  path: "/v1/events",
  operationId: "publishEvent",
  summary: "Publish an event",
  tags: ["Events"],
  security,
  middleware: [authenticate, requireScope("events:write"), requireAccount],
  request: { body: jsonBody(PublishBody) },
  responses: {
    202: jsonResponse(z.object({ event: Event, deliveries: z.array(DeliverySummary) }), "Accepted for delivery"),
    ...errorResponses(400, 404, 413, 415),
  },
});

const TypeParams = z.object({ name: EventTypeName.openapi({ param: { name: "name", in: "path" } }) });

export const listTypes = createRoute({
  method: "get",
  path: "/v1/event-types",
  operationId: "listEventTypes",
  summary: "List event types",
  description: "The catalog: Keyhook's own types, then the account's, each with its group, schema and examples.",
  tags: ["Events"],
  security,
  middleware: [authenticate, requireScope("webhooks:read"), requireAccount],
  request: {
    query: z.object({
      includeArchived: z
        .enum(["true", "false"])
        .optional()
        .openapi({ description: "Archived types too (default: left out)" }),
    }),
  },
  responses: {
    200: jsonResponse(z.object({ eventTypes: z.array(EventType) }), "The catalog"),
    ...errorResponses(400, 404),
  },
});

export const getType = createRoute({
  method: "get",
  path: "/v1/event-types/{name}",
  operationId: "getEventType",
  summary: "Get an event type",
  tags: ["Events"],
  security,
  middleware: [authenticate, requireScope("webhooks:read"), requireAccount],
  request: { params: TypeParams },
  responses: { 200: jsonResponse(z.object({ eventType: EventType }), "The type"), ...errorResponses(400, 404) },
});

export const catalogDocument = createRoute({
  method: "get",
  path: "/v1/catalog/openapi.json",
  operationId: "getCatalogDocument",
  summary: "The catalog as an OpenAPI document",
  description:
    "An OpenAPI 3.1 document whose `webhooks` section has one entry per event type the account's webhooks can receive (archived types left out): the request a receiver gets, with the entity's schema and examples. Generate a receiver's types from it.",
  tags: ["Events"],
  security,
  middleware: [authenticate, requireScope("webhooks:read"), requireAccount],
  responses: {
    200: jsonResponse(z.record(z.string(), z.unknown()), "An OpenAPI 3.1 document"),
    ...errorResponses(404),
  },
});

export const registerType = createRoute({
  method: "post",
  path: "/v1/event-types",
  operationId: "registerEventType",
  summary: "Register or change an event type",
  tags: ["Events"],
  security,
  middleware: [authenticate, requireScope("events:write"), requireAccount],
  request: { body: jsonBody(RegisterEventTypeBody) },
  responses: {
    201: jsonResponse(z.object({ eventType: EventType }), "Registered (or changed)"),
    ...errorResponses(400, 404, 409, 413, 415),
  },
});

export const deleteContent = createRoute({
  method: "delete",
  path: "/v1/events/{id}/content",
  operationId: "deleteEventContent",
  summary: "Delete an event's content",
  description:
    "Expunges the event's entity and its attempts' request and response bodies now; the event, its deliveries and attempts keep their ids, times and statuses. Deliveries still pending are cancelled. Audited as `event.content_deleted`; calling it again changes nothing.",
  tags: ["Events"],
  security,
  middleware: [authenticate, requireScope("events:write"), requireAccount],
  request: { params: IdParams },
  responses: {
    200: jsonResponse(
      z.object({ event: Event, cancelledDeliveries: z.array(z.string()) }),
      "The event, without its content, and the deliveries this call cancelled",
    ),
    ...errorResponses(400, 404),
  },
});

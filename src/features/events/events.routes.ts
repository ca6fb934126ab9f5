import { createRoute, z } from "@hono/zod-openapi";
import { authenticate, requireAccount, requireScope } from "../../http/middleware/auth";
import { errorResponses, jsonBody, jsonResponse, security } from "../../http/openapi-errors";
import { IdParams } from "../../lib/schemas";
import { DeliverySummary, Event, EventType, EventTypeName, PublishBody } from "./events.schemas";

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

export const listTypes = createRoute({
  method: "get",
  path: "/v1/event-types",
  operationId: "listEventTypes",
  summary: "List event types",
  tags: ["Events"],
  security,
  middleware: [authenticate, requireScope("webhooks:read"), requireAccount],
  responses: { 200: jsonResponse(z.object({ eventTypes: z.array(EventType) }), "The catalog"), ...errorResponses(404) },
});

export const registerType = createRoute({
  method: "post",
  path: "/v1/event-types",
  operationId: "registerEventType",
  summary: "Register an event type",
  tags: ["Events"],
  security,
  middleware: [authenticate, requireScope("events:write"), requireAccount],
  request: {
    body: jsonBody(
      z.strictObject({
        name: EventTypeName,
        description: z.string().max(500).optional(),
        example: z.record(z.string(), z.unknown()).optional(),
      }),
    ),
  },
  responses: {
    201: jsonResponse(z.object({ eventType: EventType }), "Registered"),
    ...errorResponses(400, 404, 413, 415),
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

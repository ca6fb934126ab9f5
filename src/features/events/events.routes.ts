import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, jsonBody, jsonResponse, security } from "../../lib/openapi-errors";
import { IdParams, Timestamp } from "../../lib/schemas";
import { authenticate, requireAccount, requireScope } from "../../middleware/auth";

/** `lap.created`, `issue.resolved`: dot-separated lowercase words. */
export const EventTypeName = z
  .string()
  .max(100)
  .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, "must look like resource.action, e.g. lap.created")
  .openapi({ example: "issue.resolved" });

export const MAX_ENTITY_BYTES = 64 * 1024;

export const PublishBody = z.strictObject({
  type: EventTypeName,
  entity: z
    .record(z.string(), z.unknown())
    .openapi({ example: { id: "iss_1", severity: "major", status: "resolved" } }),
  idempotencyKey: z.string().min(1).max(255).optional(),
});

export const Event = z
  .object({
    id: z.string(),
    type: z.string(),
    accountId: z.string(),
    occurredAt: Timestamp,
    entity: z.record(z.string(), z.unknown()).openapi({ description: "`{}` once the content was deleted" }),
    contentDeletedAt: Timestamp.nullable().openapi({
      description: "When the entity and its attempts' bodies were deleted (by hand, or past the retention)",
    }),
  })
  .openapi("Event");

export const DeliverySummary = z
  .object({ id: z.string(), webhookId: z.string(), status: z.enum(["pending", "succeeded", "failed", "cancelled"]) })
  .openapi("DeliverySummary");

export const EventType = z
  .object({ name: z.string(), description: z.string().nullable(), example: z.unknown(), builtIn: z.boolean() })
  .openapi("EventType");

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

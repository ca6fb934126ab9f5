import { z } from "@hono/zod-openapi";
import { Timestamp } from "../../lib/schemas";

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

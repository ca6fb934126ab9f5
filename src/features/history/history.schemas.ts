import { z } from "@hono/zod-openapi";
import { PageQuery, Timestamp } from "../../lib/schemas";
import { Attempt } from "../deliveries/deliveries.schemas";
import { EventTypeName } from "../events/events.schemas";

const EventStatus = z.enum(["delivered", "failing", "pending"]).openapi({
  description:
    "`failing`: a delivery failed or is being retried after a failed attempt; `pending`: one has not been tried yet; `delivered`: every delivery succeeded (or was cancelled)",
});

const Range = {
  since: z.iso.datetime({ offset: true }).optional().openapi({ description: "Published at or after" }),
  until: z.iso.datetime({ offset: true }).optional().openapi({ description: "Published before" }),
};

export const EventLogQuery = PageQuery.extend({
  type: EventTypeName.optional(),
  status: EventStatus.optional(),
  ...Range,
});

export const ExportQuery = z.object({ type: EventTypeName.optional(), status: EventStatus.optional(), ...Range });

const LoggedDelivery = z.object({
  id: z.string(),
  webhookId: z.string(),
  status: z.enum(["pending", "succeeded", "failed", "cancelled"]),
  attemptCount: z.number().int(),
  lastAttemptAt: Timestamp.nullable(),
  nextAttemptAt: Timestamp.nullable(),
  isTest: z.boolean(),
  createdAt: Timestamp,
});

const eventFields = {
  id: z.string(),
  type: z.string(),
  accountId: z.string(),
  occurredAt: Timestamp,
  entity: z.record(z.string(), z.unknown()).openapi({ description: "`{}` once the content was deleted" }),
  contentDeletedAt: Timestamp.nullable(),
  status: EventStatus,
};

export const LoggedEvent = z.object({ ...eventFields, deliveries: z.array(LoggedDelivery) }).openapi("LoggedEvent");

export const EventDetail = z
  .object({ ...eventFields, deliveries: z.array(LoggedDelivery.extend({ attempts: z.array(Attempt) })) })
  .openapi("EventDetail");

export const AttemptsQuery = PageQuery.extend({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  status: z.enum(["succeeded", "failed"]).optional(),
  eventType: EventTypeName.optional(),
  since: z.iso.datetime({ offset: true }).optional(),
});

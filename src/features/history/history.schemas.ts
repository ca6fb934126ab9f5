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
  channel: z.string().min(1).max(128).optional().openapi({ description: "Only events published to this channel" }),
  tag: z.string().min(1).max(128).optional().openapi({ description: "Only events with this tag" }),
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
  channels: z.array(z.string()).optional().openapi({ description: "The channels it was published to (absent: none)" }),
  tags: z.array(z.string()).optional().openapi({ description: "Its tags (absent: none)" }),
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

const Bytes = z.number().int();

export const DeploymentStorage = z
  .object({
    d1: z.object({ bytes: Bytes.openapi({ description: "The whole D1 database, as D1 reports its size now" }) }),
    history: z.object({
      bytes: Bytes.nullable().openapi({
        description:
          "What the webhook history (events, their deliveries and attempts) takes in D1, as the cron last measured it (an estimate from its rows' bytes); null before the cron's first run",
      }),
      share: z.number().nullable().openapi({ description: "`history.bytes` over `d1.bytes`" }),
      events: z.number().int().nullable().openapi({ description: "Events in D1 (hot and in flight)" }),
      budgetBytes: Bytes.openapi({ description: "`HISTORY_MAX_MB`: the cron keeps the history under it" }),
      lastMinuteBytes: Bytes.nullable().openapi({
        description: "The last minute's publishing, at the cron's last run",
      }),
      measuredAt: Timestamp.nullable(),
      movedEarly: z
        .object({ at: Timestamp, events: z.number().int(), bytes: Bytes })
        .nullable()
        .openapi({ description: "The latest move of events to R2 before their hot window ended, for the budget" }),
      problem: z.string().nullable().openapi({
        description:
          "A configuration error (a budget that cannot hold one minute's publishing) or a history over its budget with nothing final to move",
      }),
    }),
    archive: z.object({
      objects: z.number().int(),
      bytes: Bytes.openapi({ description: "Bytes of the archive's objects in R2 (gzipped)" }),
      events: z.number().int(),
    }),
    hotHours: z.number().int().openapi({ description: "`HISTORY_HOT_HOURS`" }),
  })
  .openapi("DeploymentStorage");

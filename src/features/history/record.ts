import type { AttemptRecord } from "../deliveries/attempt";

/**
 * One event of the webhook history, whole: the event, each delivery, each delivery's attempts. The
 * event log reads this shape from D1 (the hot window, `history.repo.ts`) and from R2 (the archive,
 * one NDJSON line per event, `archive-object.ts`), so where a record lives is invisible to a caller.
 */
/** An attempt as recorded (`deliveries/attempt.ts`), without what its delivery and event say. */
export type HistoryAttempt = Omit<AttemptRecord, "accountId" | "webhookId" | "deliveryId" | "eventId" | "eventType"> & {
  /** Only on attempts written before migration 0002; newer ones rebuild it from the event. */
  requestBody: string | null;
};

export interface HistoryDelivery {
  id: string;
  webhookId: string;
  status: "pending" | "succeeded" | "failed" | "cancelled";
  /** How many attempts were made. */
  attempts: number;
  nextAttemptAt: number | null;
  lastAttemptAt: number | null;
  isTest: boolean;
  createdAt: number;
  updatedAt: number;
  /** Every attempt, oldest first. */
  tries: HistoryAttempt[];
}

export interface HistoryEvent {
  id: string;
  accountId: string;
  type: string;
  entity: Record<string, unknown>;
  createdAt: number;
  contentDeletedAt: number | null;
  deliveries: HistoryDelivery[];
  /** Svix's channels and tags it was published with (absent: none). */
  channels?: string[];
  tags?: string[];
}

export type EventStatus = "delivered" | "failing" | "pending";

/**
 * An event's state for the log's `status` filter: `failing` if a delivery failed or is being
 * retried after a failed attempt, `pending` if one has not been tried yet, else `delivered` (every
 * delivery succeeded or was cancelled; an event no webhook subscribed to is `delivered` too).
 */
export function eventStatus(event: Pick<HistoryEvent, "deliveries">): EventStatus {
  let pending = false;
  for (const d of event.deliveries) {
    if (d.status === "failed" || (d.status === "pending" && d.tries.some((t) => !t.succeeded))) return "failing";
    if (d.status === "pending") pending = true;
  }
  return pending ? "pending" : "delivered";
}

/** The record with its content gone: the entity `{}`, every attempt's bodies null. */
export function withoutContent(event: HistoryEvent, at: number): HistoryEvent {
  return {
    ...event,
    entity: {},
    contentDeletedAt: event.contentDeletedAt ?? at,
    deliveries: event.deliveries.map((d) => ({
      ...d,
      tries: d.tries.map((t) => ({ ...t, requestBody: null, responseBody: null })),
    })),
  };
}

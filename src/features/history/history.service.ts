import type { HistoryObjectRow } from "../../db/schema";
import { idFloor } from "../../lib/encoding";
import { ApiError } from "../../lib/errors";
import { iso, isoOrNull } from "../../lib/schemas";
import type { Platform } from "../../platform";
import { deliveryBody } from "../deliveries/request";
import { ARCHIVE_CONTENT_TYPE, accountPrefix, decodeArchive, encodeArchive } from "./archive-object";
import { archiveHistory } from "./archiver";
import { historyPayload, keepWithinBudget, readStorageState } from "./budget";
import * as log from "./event-log";
import { reviseEvents } from "./event-rows.repo";
import * as repo from "./history.repo";
import { recallEvent } from "./recall";
import { type EventStatus, eventStatus, type HistoryAttempt, type HistoryEvent, withoutContent } from "./record";
import { archiveTotals, d1Size, pagesFor } from "./storage.repo";

type EventHead = Pick<HistoryEvent, "id" | "type" | "accountId" | "createdAt" | "entity" | "contentDeletedAt">;

/** An attempt as the API shows it: the request body it sent is rebuilt from the event. */
function toAttempt(
  t: HistoryAttempt & { deliveryId: string; eventId: string; eventType: string },
  event: EventHead | null,
) {
  return {
    id: t.id,
    deliveryId: t.deliveryId,
    eventId: t.eventId,
    eventType: t.eventType,
    attempt: t.attempt,
    url: t.url,
    requestHeaders: t.requestHeaders,
    // null once the event's content was deleted (by hand or past the retention).
    requestBody:
      t.requestBody ??
      (event && event.contentDeletedAt === null
        ? t.raw
          ? JSON.stringify(event.entity)
          : deliveryBody({ ...event, entity: JSON.stringify(event.entity) })
        : null),
    responseStatus: t.responseStatus,
    responseHeaders: t.responseHeaders,
    responseBody: t.responseBody,
    durationMs: t.durationMs,
    failureReason: t.failureReason,
    succeeded: t.succeeded,
    createdAt: iso(t.createdAt),
  };
}

function toLoggedEvent(e: HistoryEvent) {
  return {
    id: e.id,
    type: e.type,
    accountId: e.accountId,
    occurredAt: iso(e.createdAt),
    entity: e.entity,
    contentDeletedAt: isoOrNull(e.contentDeletedAt),
    status: eventStatus(e),
    ...(e.channels ? { channels: e.channels } : {}),
    ...(e.tags ? { tags: e.tags } : {}),
    deliveries: e.deliveries.map((d) => ({
      id: d.id,
      webhookId: d.webhookId,
      status: d.status,
      attemptCount: d.attempts,
      lastAttemptAt: isoOrNull(d.lastAttemptAt),
      nextAttemptAt: isoOrNull(d.nextAttemptAt),
      isTest: d.isTest,
      createdAt: iso(d.createdAt),
    })),
  };
}

function toEventDetail(e: HistoryEvent) {
  const head = toLoggedEvent(e);
  return {
    ...head,
    deliveries: head.deliveries.map((d, i) => ({
      ...d,
      attempts: (e.deliveries[i]?.tries ?? []).map((t) =>
        toAttempt({ ...t, deliveryId: d.id, eventId: e.id, eventType: e.type }, e),
      ),
    })),
  };
}

export interface EventQuery {
  limit: number;
  cursor?: string;
  type?: string;
  /** Only events published to this channel, or with this tag (Svix's message filters). */
  channel?: string;
  tag?: string;
  status?: EventStatus;
  since?: string;
  until?: string;
}

export interface AttemptQuery {
  limit: number;
  cursor?: string;
  status?: "succeeded" | "failed";
  eventType?: string;
  since?: string;
}

/** The event log's filter from a query (times as ISO strings, each filter optional). */
function eventFilter(
  accountId: string,
  q: Pick<EventQuery, "since" | "until" | "type" | "status" | "channel" | "tag">,
): log.EventFilter {
  return {
    accountId,
    ...(q.type === undefined ? {} : { type: q.type }),
    ...(q.channel === undefined ? {} : { channel: q.channel }),
    ...(q.tag === undefined ? {} : { tag: q.tag }),
    ...(q.status === undefined ? {} : { status: q.status }),
    ...(q.since === undefined ? {} : { since: Date.parse(q.since) }),
    ...(q.until === undefined ? {} : { until: Date.parse(q.until) }),
  };
}

/**
 * How long after its event a delivery's attempts may go on: its retry schedule, with a lease and
 * a sweep of slack each (a replay's are made later still, and shown by their event).
 */
const retrySpanMs = (delays: readonly number[]) => (delays.reduce((a, b) => a + b, 0) * 1.1 + 3_600) * 1000;

/** Objects deleted per retention run at most (R2 deletes up to 1,000 keys a call). */
const EXPIRE_BATCH = 1000;
/** Archive objects a webhook's statistics read at most. */
const STATS_OBJECTS = 50;

/** The webhook history: the archiver (D1 → R2), the event log over both, retention and deletion. */
export function createHistoryService(platform: Platform) {
  const { db, now } = platform;
  const bucket = platform.history;
  const deps = { db, bucket };

  /** Every object that holds the event (a copy may exist twice after a crash or a recall). */
  async function objectsHolding(accountId: string, id: string) {
    const out: { object: HistoryObjectRow; events: HistoryEvent[] }[] = [];
    for (const object of await repo.objectsWithEvent(db, accountId, id)) {
      const stored = await bucket.get(object.key);
      if (!stored) continue;
      const events = await decodeArchive(stored.body);
      if (events.some((e) => e.id === id)) out.push({ object, events });
    }
    return out;
  }

  /** Writes an object again with its events changed; an object left empty goes, with its index row. */
  async function rewrite(object: HistoryObjectRow, events: HistoryEvent[]) {
    if (events.length === 0) {
      await bucket.delete(object.key);
      await repo.forgetObjects(db, [object]);
      return;
    }
    const body = await encodeArchive(events);
    await bucket.put(object.key, body, {
      httpMetadata: { contentType: ARCHIVE_CONTENT_TYPE, contentEncoding: "gzip" },
    });
    await repo.updateObject(db, { ...object, events: events.length, bytes: body.byteLength });
  }

  return {
    /**
     * The cron: final events past the hot window move to R2 (`archiver.ts`), then the oldest final
     * ones too while the history is over its byte budget (`budget.ts`).
     */
    async archive(budgetMs?: number) {
      const archiver = { db, bucket, now, log: platform.log, hotHours: platform.settings.historyHotHours };
      const moved = await archiveHistory(archiver, budgetMs);
      const storage = await keepWithinBudget(
        {
          db,
          now,
          log: platform.log,
          maxBytes: platform.settings.historyMaxBytes,
          move: (limit) => archiveHistory(archiver, budgetMs, limit),
        },
        moved.payload,
      );
      const early = storage.early?.at === storage.measuredAt ? storage.early.events : 0;
      return { ...moved, early, historyBytes: pagesFor(historyPayload(storage)) };
    },

    /** The deployment's storage (operator): D1's size, the history's share and budget, the archive's. */
    async storage() {
      const [state, size, archive] = await Promise.all([readStorageState(db), d1Size(db), archiveTotals(db)]);
      const budget = platform.settings.historyMaxBytes;
      const history = state ? pagesFor(historyPayload(state)) : null;
      return {
        d1: { bytes: size },
        history: {
          bytes: history,
          share: history === null || size === 0 ? null : Math.round((history / size) * 1000) / 1000,
          events: state ? state.rows + state.minute.rows : null,
          budgetBytes: budget,
          lastMinuteBytes: state ? pagesFor(state.minute.payload) : null,
          measuredAt: isoOrNull(state?.measuredAt ?? null),
          movedEarly: state?.early
            ? { at: iso(state.early.at), events: state.early.events, bytes: pagesFor(state.early.payload) }
            : null,
          problem: state?.problem ?? null,
        },
        archive,
        hotHours: platform.settings.historyHotHours,
      };
    },

    /** The cron: archive objects whose newest event is past `WEBHOOK_RETENTION_DAYS` are deleted. */
    async expire() {
      const before = idFloor("evt", now() - platform.settings.retentionDays * 86_400_000);
      const expired = await repo.expiredObjects(db, before, EXPIRE_BATCH);
      if (expired.length === 0) return 0;
      await bucket.delete(expired.map((o) => o.key));
      await repo.forgetObjects(db, expired);
      return expired.length;
    },

    async list(accountId: string, q: EventQuery) {
      const filter = eventFilter(accountId, q);
      const { items, nextCursor } = await log.listEvents(deps, filter, q.limit, q.cursor);
      return { events: items.map(toLoggedEvent), nextCursor };
    },

    async get(accountId: string, id: string) {
      const event = await log.findEvent(deps, accountId, id);
      if (!event) throw new ApiError("not_found", "Event not found");
      return toEventDetail(event);
    },

    /** A webhook's attempts, newest first, filtered (the caller has checked the webhook is the account's). */
    async attempts(accountId: string, webhookId: string, q: AttemptQuery) {
      const { items, nextCursor } = await log.listAttempts(
        deps,
        {
          accountId,
          webhookId,
          succeeded: q.status === undefined ? null : q.status === "succeeded",
          eventType: q.eventType ?? null,
          since: q.since === undefined ? 0 : Date.parse(q.since),
        },
        q.limit,
        retrySpanMs(platform.settings.webhooks.retryDelays),
        q.cursor,
      );
      return { attempts: items.map((a) => toAttempt(a, a.event)), nextCursor };
    },

    /**
     * How many of a webhook's deliveries, of events made in [since, until), are in each state —
     * from D1 and the archive (the objects that name the webhook, at most {@link STATS_OBJECTS}
     * read: `complete` says whether every one was). An event in both is counted once, from D1.
     */
    async webhookStats(accountId: string, webhookId: string, since: number, until: number) {
      const from = idFloor("evt", since);
      const before = idFloor("evt", until);
      const counts: Record<string, number> = { pending: 0, succeeded: 0, failed: 0, cancelled: 0 };
      const hot = await repo.hotDeliveryStates(db, { accountId, webhookId, from, before, limit: 100_000 });
      const inD1 = new Set(hot.map((r) => r.id));
      for (const r of hot) counts[r.status] = (counts[r.status] ?? 0) + 1;
      const objects = (await repo.objectsFor(db, accountId, from, before, STATS_OBJECTS + 1)).filter((o) =>
        o.webhookIds.includes(webhookId),
      );
      const seen = new Set<string>();
      for (const object of objects.slice(0, STATS_OBJECTS)) {
        const stored = await bucket.get(object.key);
        if (!stored) continue;
        for (const e of await decodeArchive(stored.body)) {
          if (e.accountId !== accountId || e.id < from || e.id >= before || inD1.has(e.id) || seen.has(e.id)) continue;
          seen.add(e.id);
          for (const d of e.deliveries) if (d.webhookId === webhookId) counts[d.status] = (counts[d.status] ?? 0) + 1;
        }
      }
      return { counts, complete: objects.length <= STATS_OBJECTS };
    },

    /**
     * The account's history as NDJSON, one event per line (the shape of `GET /v1/events/{id}`),
     * newest first, streamed page by page: memory stays one page whatever the range.
     */
    export(accountId: string, q: Pick<EventQuery, "since" | "until" | "type" | "status">): ReadableStream<Uint8Array> {
      const encoder = new TextEncoder();
      let cursor: string | undefined;
      let done = false;
      const filter = eventFilter(accountId, q);
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (done) return controller.close();
          const { items, nextCursor } = await log.listEvents(deps, filter, 200, cursor);
          const text = items.map((e) => `${JSON.stringify(toEventDetail(e))}\n`).join("");
          if (text.length > 0) controller.enqueue(encoder.encode(text));
          if (nextCursor === null) done = true;
          else cursor = nextCursor;
          if (done && text.length === 0) controller.close();
        },
      });
    },

    /**
     * An archived delivery about to be retried: its event comes back to D1 (with every delivery and
     * attempt, the same ids) and leaves its object. Null if the delivery is not in the archive.
     */
    async recall(accountId: string, deliveryId: string) {
      const found = await log.findDelivery(deps, accountId, deliveryId);
      if (!found) return null;
      await recallEvent(db, bucket, found.event);
      for (const { object, events } of await objectsHolding(accountId, found.event.id)) {
        await rewrite(
          object,
          events.filter((e) => e.id !== found.event.id),
        );
      }
      return found.delivery;
    },

    /**
     * A replay reaching into the archive: the archived events in [from, before) that the webhook
     * has not received (no delivery to it, or a failed one; never a test event or one without its
     * content) and that `wants`, oldest first, up to `limit`, come back to D1 whole and leave
     * their objects (each object written once). Answers how many came back.
     */
    async recallMissed(
      accountId: string,
      webhookId: string,
      range: { from: string; before: string },
      wants: (type: string, entity: Record<string, unknown>) => boolean,
      limit: number,
    ) {
      const objects = (await repo.objectsFor(db, accountId, range.from, range.before, 1000)).reverse();
      let recalled = 0;
      for (const object of objects) {
        if (recalled >= limit) break;
        const stored = await bucket.get(object.key);
        if (!stored) continue;
        const events = await decodeArchive(stored.body);
        const missed = events
          .filter(
            (e) =>
              e.accountId === accountId &&
              e.id >= range.from &&
              e.id < range.before &&
              e.contentDeletedAt === null &&
              e.type !== "webhook.test" &&
              !e.deliveries.some((d) => d.isTest) &&
              !e.deliveries.some((d) => d.webhookId === webhookId && d.status !== "failed") &&
              wants(e.type, e.entity),
          )
          .slice(0, limit - recalled);
        if (missed.length === 0) continue;
        for (const e of missed) await recallEvent(db, bucket, e);
        const gone = new Set(missed.map((e) => e.id));
        await rewrite(
          object,
          events.filter((e) => !gone.has(e.id)),
        );
        recalled += missed.length;
      }
      return recalled;
    },

    /** `DELETE /v1/events/{id}/content` of an archived event; false if it is not in the archive. */
    async deleteContent(accountId: string, id: string, at: number) {
      const holding = await objectsHolding(accountId, id);
      for (const { object, events } of holding) {
        await rewrite(
          object,
          events.map((e) => (e.id === id ? withoutContent(e, at) : e)),
        );
      }
      return holding.length > 0;
    },

    /**
     * Deletes one attempt's response body (Svix's attempt content expunge), in D1 and in every
     * archive object holding its event; false if the event has no such attempt.
     */
    async deleteAttemptContent(accountId: string, eventId: string, attemptId: string) {
      const written = await reviseEvents(db, [eventId], (e) =>
        e.accountId === accountId && e.attempts.some((t) => t.i === attemptId)
          ? {
              ...e,
              attempts: e.attempts.map((t) =>
                t.i === attemptId ? { ...t, o: null, ...(t.b === undefined ? {} : { b: null }) } : t,
              ),
            }
          : null,
      );
      let found = written.length > 0;
      for (const { object, events } of await objectsHolding(accountId, eventId)) {
        const has = events.some(
          (e) => e.id === eventId && e.deliveries.some((d) => d.tries.some((t) => t.id === attemptId)),
        );
        if (!has) continue;
        found = true;
        await rewrite(
          object,
          events.map((e) =>
            e.id !== eventId
              ? e
              : {
                  ...e,
                  deliveries: e.deliveries.map((d) => ({
                    ...d,
                    tries: d.tries.map((t) =>
                      t.id === attemptId ? { ...t, responseBody: null, requestBody: null } : t,
                    ),
                  })),
                },
          ),
        );
      }
      return found;
    },

    /** An archived event's head, for the content deletion's answer and audit entry. */
    findArchived: (accountId: string, id: string) => log.findArchived(deps, accountId, id),

    /**
     * An account's whole archive (account deletion): every object under its prefix, indexed or not.
     * Answers whether nothing is left (a large archive takes several calls).
     */
    async forgetAccount(accountId: string, maxObjects = 1000) {
      const listed = await bucket.list({ prefix: accountPrefix(accountId), limit: Math.min(maxObjects, 1000) });
      if (listed.objects.length > 0) await bucket.delete(listed.objects.map((o) => o.key));
      const rows = await repo.accountObjects(db, accountId, 1000);
      await repo.forgetObjects(db, rows);
      return !listed.truncated && rows.length < 1000;
    },
  };
}

export type HistoryService = ReturnType<typeof createHistoryService>;

import { type Db, jsonColumn } from "../../db/client";
import type { HistoryObjectRow } from "../../db/schema";
import { idFloor } from "../../lib/encoding";
import type { HistoryAttempt, HistoryDelivery, HistoryEvent } from "./record";

/**
 * The webhook history in D1: what is still hot (events, deliveries, attempts) read as whole
 * `HistoryEvent`s, the archiver's guarded move out, and the index of what is in R2
 * (`history_objects`). Hand-written SQL with `json_each` lists: D1 binds at most 100 parameters.
 */

type Row = Record<string, string | number | null>;

/**
 * An attempt's id is `att_` + the time it finished: a delivery's attempts lie between its creation
 * and its last update, so they are read as a range of the attempts' key `(webhook_id, id)` — the
 * table has no index by event, on purpose (an index is a row written per attempt). A minute of
 * slack each side covers clocks of other isolates.
 */
const SLACK_MS = 60_000;

const CHUNK = 100;
const chunks = <T>(items: readonly T[], size = CHUNK) => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

const str = (v: string | number | null | undefined) => (v === null || v === undefined ? null : String(v));
const num = (v: string | number | null | undefined) => (v === null || v === undefined ? null : Number(v));

function toAttempt(r: Row): HistoryAttempt {
  return {
    id: String(r.id),
    attempt: Number(r.attempt),
    url: String(r.url),
    requestHeaders: jsonColumn<Record<string, string>>(r.request_headers) ?? {},
    requestBody: str(r.request_body),
    responseStatus: num(r.response_status),
    responseHeaders: jsonColumn<Record<string, string>>(r.response_headers),
    responseBody: str(r.response_body),
    durationMs: Number(r.duration_ms),
    failureReason: str(r.failure_reason),
    succeeded: Number(r.succeeded) === 1,
    createdAt: Number(r.created_at),
  };
}

function toDelivery(r: Row): HistoryDelivery {
  return {
    id: String(r.id),
    webhookId: String(r.webhook_id),
    status: String(r.status) as HistoryDelivery["status"],
    attempts: Number(r.attempts),
    nextAttemptAt: num(r.next_attempt_at),
    lastAttemptAt: num(r.last_attempt_at),
    isTest: Number(r.is_test) === 1,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    tries: [],
  };
}

/**
 * Whole events from D1 by id (any account: the caller has checked it), in id order: two round trips
 * (events with their deliveries, then the deliveries' attempts).
 */
export async function loadRecords(db: Db, ids: readonly string[]): Promise<HistoryEvent[]> {
  if (ids.length === 0) return [];
  const d1 = db.$client;
  const eventRows: Row[] = [];
  const deliveryRows: Row[] = [];
  for (const part of chunks(ids, 500)) {
    const json = JSON.stringify(part);
    const [events, deliveries] = await d1.batch<Row>([
      d1.prepare("SELECT * FROM events WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id").bind(json),
      d1.prepare("SELECT * FROM deliveries WHERE event_id IN (SELECT value FROM json_each(?1)) ORDER BY id").bind(json),
    ]);
    eventRows.push(...(events?.results ?? []));
    deliveryRows.push(...(deliveries?.results ?? []));
  }
  const deliveries = deliveryRows.map((r) => ({ row: r, delivery: toDelivery(r) }));
  const ranges = deliveries
    .filter(({ delivery }) => delivery.attempts > 0)
    .map(({ delivery: d }) => [
      d.webhookId,
      idFloor("att", d.createdAt - SLACK_MS),
      idFloor("att", Math.max(d.updatedAt, d.lastAttemptAt ?? 0) + SLACK_MS),
      d.id,
    ]);
  const byDelivery = new Map<string, HistoryAttempt[]>();
  for (const part of chunks(ranges)) {
    // CROSS JOIN keeps the list the outer loop: each range is one seek into the attempts' key.
    const { results } = await d1
      .prepare(
        `SELECT a.* FROM json_each(?1) j CROSS JOIN attempts a
          WHERE a.webhook_id = j.value->>0 AND a.id >= j.value->>1 AND a.id < j.value->>2
            AND a.delivery_id = j.value->>3
          ORDER BY a.id`,
      )
      .bind(JSON.stringify(part))
      .all<Row>();
    for (const r of results) {
      const list = byDelivery.get(String(r.delivery_id)) ?? [];
      list.push(toAttempt(r));
      byDelivery.set(String(r.delivery_id), list);
    }
  }
  const byEvent = new Map<string, HistoryDelivery[]>();
  for (const { row, delivery } of deliveries) {
    delivery.tries = byDelivery.get(delivery.id) ?? [];
    const list = byEvent.get(String(row.event_id)) ?? [];
    list.push(delivery);
    byEvent.set(String(row.event_id), list);
  }
  return eventRows.map((r) => ({
    id: String(r.id),
    accountId: String(r.account_id),
    type: String(r.type),
    entity: jsonColumn<Record<string, unknown>>(r.entity) ?? {},
    createdAt: Number(r.created_at),
    contentDeletedAt: num(r.content_deleted_at),
    deliveries: byEvent.get(String(r.id)) ?? [],
  }));
}

export interface HotQuery {
  accountId: string;
  /** Ids below this (exclusive). */
  before: string;
  /** Ids from this on (inclusive). */
  from: string;
  type?: string;
  limit: number;
}

/** An account's events in D1, newest first, below a cursor. */
export async function hotEventIds(db: Db, q: HotQuery): Promise<string[]> {
  const { results } = await db.$client
    .prepare(
      `SELECT id FROM events WHERE account_id = ?1 AND id < ?2 AND id >= ?3 AND (?4 IS NULL OR type = ?4)
        ORDER BY id DESC LIMIT ?5`,
    )
    .bind(q.accountId, q.before, q.from, q.type ?? null, q.limit)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** Whether the event is in D1 for this account. */
export async function hotEvent(db: Db, accountId: string, id: string) {
  const row = await db.$client
    .prepare("SELECT id FROM events WHERE id = ?1 AND account_id = ?2")
    .bind(id, accountId)
    .first<{ id: string }>();
  return row !== null;
}

export interface AttemptQuery {
  webhookId: string;
  before: string;
  since: number;
  succeeded: boolean | null;
  eventType: string | null;
  limit: number;
}

export interface AttemptWithDelivery extends HistoryAttempt {
  deliveryId: string;
  eventId: string;
  eventType: string;
}

/** A webhook's attempts in D1, newest first, below a cursor: one range of the attempts' key. */
export async function hotAttempts(db: Db, q: AttemptQuery): Promise<AttemptWithDelivery[]> {
  const { results } = await db.$client
    .prepare(
      `SELECT * FROM attempts WHERE webhook_id = ?1 AND id < ?2 AND id >= ?3
         AND (?4 IS NULL OR succeeded = ?4) AND (?5 IS NULL OR event_type = ?5)
        ORDER BY id DESC LIMIT ?6`,
    )
    .bind(
      q.webhookId,
      q.before,
      idFloor("att", q.since),
      q.succeeded === null ? null : q.succeeded ? 1 : 0,
      q.eventType,
      q.limit,
    )
    .all<Row>();
  return results.map((r) => ({
    ...toAttempt(r),
    deliveryId: String(r.delivery_id),
    eventId: String(r.event_id),
    eventType: String(r.event_type),
  }));
}

/**
 * Events the archiver may move: older than `before` (the hot window), no delivery pending, and no
 * idempotency key still answering (it is cleared after 24 h: until then a repeated publish must
 * find the event in D1). Oldest first, after `after`.
 */
export async function movableEvents(db: Db, after: string, before: string, limit: number) {
  const { results } = await db.$client
    .prepare(
      `SELECT id, account_id, created_at FROM events e
        WHERE e.id > ?1 AND e.id < ?2 AND e.idempotency_key IS NULL
          AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
        ORDER BY e.id LIMIT ?3`,
    )
    .bind(after, before, limit)
    .all<{ id: string; account_id: string; created_at: number }>();
  return results;
}

export interface Move {
  object: Omit<HistoryObjectRow, "webhookIds"> & { webhookIds: string[] };
  events: readonly HistoryEvent[];
}

/**
 * Moves events out of D1 once their object is in R2, in one D1 batch (one transaction): the index
 * row goes in, then the attempts, deliveries and events go out, and each webhook keeps its latest
 * success. All of it only if nothing changed since the events were read (same events, same content,
 * same deliveries and attempt counts, none pending): else nothing is written and the object is not
 * indexed (the archiver deletes it). Answers whether the move happened.
 */
export async function moveOut(db: Db, { object, events }: Move): Promise<boolean> {
  const d1 = db.$client;
  const ids = JSON.stringify(events.map((e) => e.id));
  const deliveries = events.flatMap((e) => e.deliveries);
  const withContent = events.filter((e) => e.contentDeletedAt === null).length;
  const attemptCount = deliveries.reduce((n, d) => n + d.attempts, 0);
  const guard = `(SELECT count(*) FROM events WHERE id IN (SELECT value FROM json_each(?10))) = ?11
    AND (SELECT count(*) FROM events WHERE id IN (SELECT value FROM json_each(?10)) AND content_deleted_at IS NULL) = ?12
    AND (SELECT count(*) FROM deliveries WHERE event_id IN (SELECT value FROM json_each(?10))) = ?13
    AND (SELECT coalesce(sum(attempts), 0) FROM deliveries WHERE event_id IN (SELECT value FROM json_each(?10))) = ?14
    AND NOT EXISTS (SELECT 1 FROM deliveries WHERE event_id IN (SELECT value FROM json_each(?10)) AND status = 'pending')`;
  const indexed = `EXISTS (SELECT 1 FROM history_objects WHERE account_id = ?1 AND key = ?2 AND archived_at = ?3)`;
  const statements: D1PreparedStatement[] = [
    d1
      .prepare(
        `INSERT INTO history_objects
           (account_id, key, first_event_id, last_event_id, last_attempt_id, webhook_ids, events, bytes, archived_at)
         SELECT ?1, ?2, ?4, ?5, ?6, ?7, ?8, ?9, ?3 WHERE ${guard}
         ON CONFLICT (account_id, key) DO UPDATE SET first_event_id = excluded.first_event_id,
           last_event_id = excluded.last_event_id, last_attempt_id = excluded.last_attempt_id,
           webhook_ids = excluded.webhook_ids, events = excluded.events, bytes = excluded.bytes,
           archived_at = excluded.archived_at`,
      )
      .bind(
        object.accountId,
        object.key,
        object.archivedAt,
        object.firstEventId,
        object.lastEventId,
        object.lastAttemptId,
        JSON.stringify(object.webhookIds),
        object.events,
        object.bytes,
        ids,
        events.length,
        withContent,
        deliveries.length,
        attemptCount,
      ),
  ];
  // A webhook's latest success was read from its attempts: it stays on the webhook's row.
  const successes = new Map<string, number>();
  for (const d of deliveries) {
    for (const t of d.tries) {
      if (t.succeeded && t.createdAt > (successes.get(d.webhookId) ?? 0)) successes.set(d.webhookId, t.createdAt);
    }
  }
  if (successes.size > 0) {
    statements.push(
      d1
        .prepare(
          `UPDATE webhooks SET last_success_at = max(coalesce(last_success_at, 0),
              (SELECT j.value->>1 FROM json_each(?4) j WHERE j.value->>0 = webhooks.id))
            WHERE id IN (SELECT value->>0 FROM json_each(?4)) AND ${indexed}`,
        )
        .bind(object.accountId, object.key, object.archivedAt, JSON.stringify([...successes])),
    );
  }
  const pairs = deliveries.flatMap((d) => d.tries.map((t) => [d.webhookId, t.id]));
  for (const part of chunks(pairs, 500)) {
    statements.push(
      d1
        .prepare(
          `DELETE FROM attempts WHERE (webhook_id, id) IN (SELECT value->>0, value->>1 FROM json_each(?4))
             AND ${indexed}`,
        )
        .bind(object.accountId, object.key, object.archivedAt, JSON.stringify(part)),
    );
  }
  statements.push(
    d1
      .prepare(`DELETE FROM deliveries WHERE event_id IN (SELECT value FROM json_each(?4)) AND ${indexed}`)
      .bind(object.accountId, object.key, object.archivedAt, ids),
    d1
      .prepare(`DELETE FROM events WHERE id IN (SELECT value FROM json_each(?4)) AND ${indexed} RETURNING id`)
      .bind(object.accountId, object.key, object.archivedAt, ids),
  );
  const results = await d1.batch(statements);
  return (results.at(-1)?.results.length ?? 0) > 0;
}

const toObject = (r: Row): HistoryObjectRow => ({
  accountId: String(r.account_id),
  key: String(r.key),
  firstEventId: String(r.first_event_id),
  lastEventId: String(r.last_event_id),
  lastAttemptId: str(r.last_attempt_id),
  webhookIds: jsonColumn<string[]>(r.webhook_ids) ?? [],
  events: Number(r.events),
  bytes: Number(r.bytes),
  archivedAt: Number(r.archived_at),
});

/** An account's archived objects that may hold events in [from, before), newest first. */
export async function objectsFor(db: Db, accountId: string, from: string, before: string, limit: number) {
  const { results } = await db.$client
    .prepare(
      `SELECT * FROM history_objects WHERE account_id = ?1 AND first_event_id < ?2 AND last_event_id >= ?3
        ORDER BY last_event_id DESC, archived_at DESC LIMIT ?4`,
    )
    .bind(accountId, before, from, limit)
    .all<Row>();
  return results.map(toObject);
}

/**
 * Objects that may hold a webhook's attempts below `before` (an attempt id), newest attempt first: an
 * object's attempts were all made after its first event.
 */
export async function objectsForWebhook(db: Db, accountId: string, webhookId: string, before: string, limit: number) {
  const { results } = await db.$client
    .prepare(
      `SELECT * FROM history_objects WHERE account_id = ?1 AND last_attempt_id IS NOT NULL
         AND ?2 IN (SELECT value FROM json_each(webhook_ids)) AND 'att_' || substr(first_event_id, 5) < ?3
        ORDER BY last_attempt_id DESC LIMIT ?4`,
    )
    .bind(accountId, webhookId, before, limit)
    .all<Row>();
  return results.map(toObject);
}

/** The objects that may hold one event (usually one). */
export async function objectsWithEvent(db: Db, accountId: string, eventId: string) {
  const { results } = await db.$client
    .prepare(
      `SELECT * FROM history_objects WHERE account_id = ?1 AND first_event_id <= ?2 AND last_event_id >= ?2
        ORDER BY archived_at DESC LIMIT 20`,
    )
    .bind(accountId, eventId)
    .all<Row>();
  return results.map(toObject);
}

/** Objects whose newest event is older than `before` (the retention), any account. */
export async function expiredObjects(db: Db, before: string, limit: number) {
  const { results } = await db.$client
    .prepare("SELECT * FROM history_objects WHERE last_event_id < ?1 ORDER BY last_event_id LIMIT ?2")
    .bind(before, limit)
    .all<Row>();
  return results.map(toObject);
}

export async function accountObjects(db: Db, accountId: string, limit: number) {
  const { results } = await db.$client
    .prepare("SELECT * FROM history_objects WHERE account_id = ?1 LIMIT ?2")
    .bind(accountId, limit)
    .all<Row>();
  return results.map(toObject);
}

export async function forgetObjects(db: Db, objects: readonly Pick<HistoryObjectRow, "accountId" | "key">[]) {
  for (const part of chunks(objects)) {
    await db.$client
      .prepare(
        `DELETE FROM history_objects WHERE (account_id, key) IN
           (SELECT value->>0, value->>1 FROM json_each(?1))`,
      )
      .bind(JSON.stringify(part.map((o) => [o.accountId, o.key])))
      .run();
  }
}

/** After an object was rewritten (content deleted, an event recalled): its new size and count. */
export async function updateObject(db: Db, object: HistoryObjectRow) {
  await db.$client
    .prepare("UPDATE history_objects SET events = ?3, bytes = ?4 WHERE account_id = ?1 AND key = ?2")
    .bind(object.accountId, object.key, object.events, object.bytes)
    .run();
}

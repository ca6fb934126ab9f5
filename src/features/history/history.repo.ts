import { type Db, jsonColumn } from "../../db/client";
import type { HistoryObjectRow } from "../../db/schema";
import { idFloor, timeOfId } from "../../lib/encoding";
import { readStoredJson } from "../../lib/json-depth";
import { selectEvents } from "./event-rows.repo";
import type { HistoryAttempt, HistoryEvent } from "./record";
import { ROW_BYTES } from "./storage.repo";
import { toHistoryEvent } from "./stored-event";

/**
 * The webhook history in D1: what is still hot (events with their deliveries and attempts, one row
 * each: `stored-event.ts`) read as whole `HistoryEvent`s, the archiver's guarded move out, and the
 * index of what is in R2 (`history_objects`). Hand-written SQL with `json_each` lists: D1 binds at
 * most 100 parameters.
 */

type Row = Record<string, string | number | null>;

const CHUNK = 100;
const chunks = <T>(items: readonly T[], size = CHUNK) => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

const str = (v: string | number | null | undefined) => (v === null || v === undefined ? null : String(v));

/** Whole events from D1 by id (any account: the caller has checked it), in id order. */
export async function loadRecords(db: Db, ids: readonly string[]): Promise<HistoryEvent[]> {
  return (await selectEvents(db, ids)).map((e) => toHistoryEvent(e, readStoredJson));
}

export interface HotQuery {
  accountId: string;
  /** Ids below this (exclusive). */
  before: string;
  /** Ids from this on (inclusive). */
  from: string;
  type?: string;
  channel?: string;
  tag?: string;
  limit: number;
}

/** An account's events in D1, newest first, below a cursor. */
export async function hotEventIds(db: Db, q: HotQuery): Promise<string[]> {
  const { results } = await db.$client
    .prepare(
      `SELECT id FROM events WHERE account_id = ?1 AND id < ?2 AND id >= ?3 AND (?4 IS NULL OR type = ?4)
          AND (?6 IS NULL OR EXISTS (SELECT 1 FROM json_each(channels) WHERE value = ?6))
          AND (?7 IS NULL OR EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ?7))
        ORDER BY id DESC LIMIT ?5`,
    )
    .bind(q.accountId, q.before, q.from, q.type ?? null, q.limit, q.channel ?? null, q.tag ?? null)
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
  accountId: string;
  webhookId: string;
  /** Attempt ids below this (exclusive). */
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
  event: HistoryEvent;
}

/** Events read per step, and at most per call, for a webhook's attempts. */
const ATTEMPT_SCAN = 100;
const ATTEMPT_SCAN_MAX = 1000;

/**
 * A webhook's attempts in D1, newest first, below a cursor: they are in their events' rows, so
 * the account's events with an attempt to the webhook are read newest first until the page is
 * full and older events can only hold older attempts (an event's attempts end within its retry
 * schedule, `spanMs`), or the scan's bound.
 */
export async function hotAttempts(db: Db, q: AttemptQuery, spanMs: number): Promise<AttemptWithDelivery[]> {
  const found: AttemptWithDelivery[] = [];
  const want = q.limit;
  const time = q.before.slice(4, 14);
  let eventsBefore = q.before.startsWith("att_") && time.length === 10 ? `evt_${time}~` : "evt_~";
  const from = idFloor("evt", Math.max(0, q.since - spanMs));
  for (let scanned = 0; scanned < ATTEMPT_SCAN_MAX; ) {
    const { results } = await db.$client
      .prepare(
        `SELECT e.id FROM events e WHERE e.account_id = ?1 AND e.id < ?2 AND e.id >= ?3
           AND EXISTS (SELECT 1 FROM json_each(e.deliveries) d WHERE d.value->>'w' = ?4)
           AND (?5 IS NULL OR e.type = ?5)
         ORDER BY e.id DESC LIMIT ?6`,
      )
      .bind(q.accountId, eventsBefore, from, q.webhookId, q.eventType, ATTEMPT_SCAN)
      .all<{ id: string }>();
    scanned += results.length;
    for (const event of await loadRecords(
      db,
      results.map((r) => r.id),
    )) {
      for (const d of event.deliveries) {
        if (d.webhookId !== q.webhookId) continue;
        for (const t of d.tries) {
          if (t.id >= q.before || t.createdAt < q.since) continue;
          if (q.succeeded !== null && t.succeeded !== q.succeeded) continue;
          found.push({ ...t, deliveryId: d.id, eventId: event.id, eventType: event.type, event });
        }
      }
    }
    const last = results.at(-1)?.id;
    if (results.length < ATTEMPT_SCAN || last === undefined) break;
    eventsBefore = last;
    found.sort((a, b) => (a.id < b.id ? 1 : -1));
    const floor = found[want - 1];
    // Events created before the page's last attempt less a whole retry schedule hold older ones only.
    if (floor && timeOfId(last) < floor.createdAt - spanMs) break;
  }
  return found.sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, want);
}

/**
 * Events the archiver may move: older than `before` (the hot window), no delivery pending, and no
 * idempotency key still answering (it is cleared after 24 h: until then a repeated publish must
 * find the event in D1). Oldest first, after `after`.
 */
export async function movableEvents(db: Db, after: string, before: string, limit: number) {
  const { results } = await db.$client
    .prepare(
      `SELECT id FROM events e
        WHERE e.id > ?1 AND e.id < ?2 AND e.idempotency_key IS NULL AND e.due_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM json_each(e.deliveries) d WHERE d.value->>'s' = 'pending')
        ORDER BY e.id LIMIT ?3`,
    )
    .bind(after, before, limit)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

export interface Move {
  object: Omit<HistoryObjectRow, "webhookIds"> & { webhookIds: string[] };
  /** The events as read, each with its row's `rev`. */
  events: readonly (HistoryEvent & { rev: number })[];
}

/**
 * Moves events out of D1 once their object is in R2, in one D1 batch (one transaction): the index
 * row goes in, then the events go out (their deliveries and attempts with them; a webhook keeps its
 * latest success on its own row). All of it only if none of the events changed since they were read
 * (every row still at the `rev` read): else nothing is written and the object is not indexed (the
 * archiver deletes it). Answers the bytes the moved rows took (`ROW_BYTES`, summed), or null if
 * nothing moved.
 */
export async function moveOut(db: Db, { object, events }: Move): Promise<number | null> {
  const d1 = db.$client;
  const ids = JSON.stringify(events.map((e) => e.id));
  const revs = JSON.stringify(events.map((e) => [e.id, e.rev]));
  const guard = `(SELECT count(*) FROM json_each(?10) j JOIN events e ON e.id = j.value->>0 AND e.rev = j.value->>1) = ?11`;
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
        revs,
        events.length,
      ),
  ];
  statements.push(
    d1
      .prepare(`DELETE FROM delivery_aliases WHERE event_id IN (SELECT value FROM json_each(?4)) AND ${indexed}`)
      .bind(object.accountId, object.key, object.archivedAt, ids),
    d1
      .prepare(
        `DELETE FROM events WHERE id IN (SELECT value FROM json_each(?4)) AND ${indexed} RETURNING ${ROW_BYTES} AS bytes`,
      )
      .bind(object.accountId, object.key, object.archivedAt, ids),
  );
  const results = await d1.batch<{ bytes: number }>(statements);
  const deleted = results.at(-1)?.results ?? [];
  return deleted.length > 0 ? deleted.reduce((sum, r) => sum + Number(r.bytes), 0) : null;
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

/** Each delivery to a webhook of the events in [from, before): its event and state (at most `limit`). */
export async function hotDeliveryStates(
  db: Db,
  q: { accountId: string; webhookId: string; from: string; before: string; limit: number },
) {
  const { results } = await db.$client
    .prepare(
      `SELECT e.id AS id, d.value->>'s' AS status FROM events e, json_each(e.deliveries) d
        WHERE e.account_id = ?1 AND e.id >= ?3 AND e.id < ?4 AND d.value->>'w' = ?2 LIMIT ?5`,
    )
    .bind(q.accountId, q.webhookId, q.from, q.before, q.limit)
    .all<{ id: string; status: string }>();
  return results;
}

import { and, asc, eq, gte, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { type AuditRow, attempts, deliveries, type EventRow, events, eventTypes } from "../../db/schema";
import { batched } from "../../lib/batched";
import { memo } from "../../lib/memo";
import { insertAudit } from "../audit/audit.repo";

export function findByIdempotencyKey(db: Db, accountId: string, key: string) {
  return db
    .select()
    .from(events)
    .where(and(eq(events.accountId, accountId), eq(events.idempotencyKey, key)))
    .get();
}

/** An idempotency key is kept 24 h: past that, the old event lets go of it. */
export function releaseIdempotencyKey(db: Db, accountId: string, key: string, before: number) {
  return db
    .update(events)
    .set({ idempotencyKey: null })
    .where(and(eq(events.accountId, accountId), eq(events.idempotencyKey, key), lt(events.createdAt, before)))
    .run();
}

export function deliveriesOf(db: Db, eventId: string) {
  return db.select().from(deliveries).where(eq(deliveries.eventId, eventId)).orderBy(asc(deliveries.id)).all();
}

const OUTBOX_SQL = {
  /** Not into an account deleted meanwhile (a publish racing its deletion writes nothing). */
  event: `INSERT INTO events (id, account_id, type, entity, idempotency_key, created_at)
    SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?2 AND deleted_at IS NULL)`,
  /** One statement for every delivery, whatever their number: the ids come in as one JSON parameter. */
  deliveries: `INSERT INTO deliveries (id, account_id, event_id, webhook_id, status, attempts, next_attempt_at, is_test, created_at, updated_at)
    SELECT value ->> '$.id', ?2, ?3, value ->> '$.webhookId', 'pending', 0, ?4, ?5, ?6, ?6 FROM json_each(?1)
    WHERE EXISTS (SELECT 1 FROM events WHERE id = ?3)`,
  eventType: `INSERT INTO event_types (account_id, name, created_at)
    SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?1 AND deleted_at IS NULL) ON CONFLICT DO NOTHING`,
} as const;

type OutboxStatements = { [K in keyof typeof OUTBOX_SQL]: D1PreparedStatement };
const prepared = new WeakMap<D1Database, OutboxStatements>();

interface OutboxWrite {
  event: Omit<EventRow, "entity"> & { entity: string };
  rows: { id: string; webhookId: string }[];
  /** When a consumer may first claim the deliveries. */
  nextAttemptAt: number;
  isTest: boolean;
  /** Also registers the event's type for the account. */
  registerType: boolean;
}

/** One outbox write's statements: the event first (whose changes say whether it was written). */
function outboxStatements(db: Db, w: OutboxWrite): D1PreparedStatement[] {
  const s = memo(prepared, db.$client, () => {
    const client = db.$client;
    return Object.fromEntries(Object.entries(OUTBOX_SQL).map(([k, q]) => [k, client.prepare(q)])) as OutboxStatements;
  });
  const { id, accountId, type, entity, idempotencyKey, createdAt } = w.event;
  return [
    s.event.bind(id, accountId, type, entity, idempotencyKey, createdAt),
    ...(w.registerType ? [s.eventType.bind(accountId, type, createdAt)] : []),
    ...(w.rows.length > 0
      ? [
          s.deliveries.bind(
            JSON.stringify(w.rows.map((r) => ({ id: r.id, webhookId: r.webhookId }))),
            accountId,
            id,
            w.nextAttemptAt,
            w.isTest ? 1 : 0,
            createdAt,
          ),
        ]
      : []),
  ];
}

/**
 * Outbox writes of concurrent publishes in one D1 batch (`lib/batched`): a write finding none in
 * flight goes at once; those arriving meanwhile share the next batch. Each answers whether its
 * event was written (false: the account was deleted). A batch is one transaction: it fails
 * whole only if D1 does — a write that can conflict (an idempotency key) goes alone.
 */
const sharedOutbox = batched<Db, OutboxWrite, boolean>(
  async (db, writes) => {
    const firsts: number[] = [];
    const statements: D1PreparedStatement[] = [];
    for (const w of writes) {
      firsts.push(statements.length);
      statements.push(...outboxStatements(db, w));
    }
    const results = await db.$client.batch(statements);
    return firsts.map((i) => (results[i]?.meta.changes ?? 0) > 0);
  },
  { max: 32, patience: 30_000, onAbandon: "fail" },
);

/** Entities larger than this (JSON characters) are written alone: a shared batch stays ≤ 32 × 16 KiB. */
const SHARED_ENTITY_MAX = 16 * 1024;

/**
 * The outbox write, one D1 round trip: the event, every delivery (one statement), and the type's
 * registration when `registerType`. False if nothing was written: the account was deleted.
 * Without an idempotency key, and with an entity of at most 16 KiB, it may share its round trip
 * with other publishes' (`keepAlive`: the invocation's `waitUntil`, so a client going away does not
 * cancel the others' write).
 */
export async function writeOutbox(db: Db, write: OutboxWrite, keepAlive: (run: Promise<unknown>) => void) {
  if (write.event.idempotencyKey === null && write.event.entity.length <= SHARED_ENTITY_MAX) {
    return sharedOutbox(db, write, keepAlive);
  }
  const [written] = await db.$client.batch(outboxStatements(db, write));
  return (written?.meta.changes ?? 0) > 0;
}

export function accountEventTypes(db: Db, accountId: string) {
  return db.select().from(eventTypes).where(eq(eventTypes.accountId, accountId)).orderBy(asc(eventTypes.name)).all();
}

export function upsertEventType(db: Db, row: typeof eventTypes.$inferInsert) {
  return db
    .insert(eventTypes)
    .values(row)
    .onConflictDoUpdate({
      target: [eventTypes.accountId, eventTypes.name],
      set: { description: row.description, example: row.example },
    })
    .returning()
    .get();
}

/** Idempotency keys older than `before` let go of their events (the cron). */
export function clearIdempotencyKeys(db: Db, before: number) {
  return db
    .update(events)
    .set({ idempotencyKey: null })
    .where(and(lt(events.createdAt, before), sql`${events.idempotencyKey} IS NOT NULL`))
    .run();
}

export function findEvent(db: Db, accountId: string, id: string) {
  return db
    .select()
    .from(events)
    .where(and(eq(events.id, id), eq(events.accountId, accountId)))
    .get();
}

/**
 * Expunges one event's content in one batch: its entity becomes `{}`, its attempts' request and
 * response bodies are cleared (found by their webhooks: the attempts' key), its pending deliveries
 * are cancelled, and the audit entry is written only if this batch was the one that deleted it.
 * Answers the cancelled deliveries' ids, or null if the content was already gone.
 */
export async function deleteContent(db: Db, event: EventRow, webhookIds: string[], at: number, audit: AuditRow) {
  const [changed, cancelled] = await db.batch([
    db
      .update(events)
      .set({ entity: {}, contentDeletedAt: at })
      .where(and(eq(events.id, event.id), isNull(events.contentDeletedAt)))
      .returning({ id: events.id }),
    db
      .update(deliveries)
      .set({ status: "cancelled", nextAttemptAt: null, updatedAt: at })
      .where(and(eq(deliveries.eventId, event.id), eq(deliveries.status, "pending")))
      .returning({ id: deliveries.id }),
    db
      .update(attempts)
      .set({ requestBody: null, responseBody: null })
      .where(
        and(inArray(attempts.webhookId, webhookIds.length > 0 ? webhookIds : [""]), eq(attempts.eventId, event.id)),
      ),
    insertAudit(
      db,
      audit,
      sql`EXISTS (SELECT 1 FROM ${events} WHERE ${events.id} = ${event.id} AND ${events.contentDeletedAt} = ${at})`,
    ),
  ]);
  return changed.length > 0 ? cancelled.map((d) => d.id) : null;
}

/** The retention's events: content older than `beforeId` deleted, from `fromId` on, at most `limit`. */
export function expireEvents(db: Db, fromId: string, beforeId: string, at: number, limit: number) {
  return db
    .update(events)
    .set({ entity: {}, contentDeletedAt: at })
    .where(
      inArray(
        events.id,
        db
          .select({ id: events.id })
          .from(events)
          .where(and(gte(events.id, fromId), lt(events.id, beforeId), isNull(events.contentDeletedAt)))
          .orderBy(asc(events.id))
          .limit(limit),
      ),
    )
    .returning({ id: events.id });
}

/** The retention's attempts: request and response bodies of attempts made before `before`. */
export function expireAttemptBodies(db: Db, before: number, limit: number) {
  return db.run(sql`UPDATE ${attempts} SET request_body = NULL, response_body = NULL
    WHERE (webhook_id, id) IN (SELECT webhook_id, id FROM ${attempts} WHERE created_at < ${before}
      AND (response_body IS NOT NULL OR request_body IS NOT NULL) LIMIT ${limit})`);
}

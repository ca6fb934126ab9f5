import { and, asc, eq, lt, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { deliveries, type EventRow, events, eventTypes } from "../../db/schema";
import { memo } from "../../lib/memo";

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
  event: `INSERT INTO events (id, account_id, type, entity, idempotency_key, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)`,
  /** One statement for every delivery, whatever their number: the ids come in as one JSON parameter. */
  deliveries: `INSERT INTO deliveries (id, account_id, event_id, webhook_id, status, attempts, next_attempt_at, is_test, created_at, updated_at)
    SELECT value ->> '$.id', ?2, ?3, value ->> '$.webhookId', 'pending', 0, ?4, ?5, ?6, ?6 FROM json_each(?1)`,
  eventType: `INSERT INTO event_types (account_id, name, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING`,
} as const;

type OutboxStatements = { [K in keyof typeof OUTBOX_SQL]: D1PreparedStatement };
const prepared = new WeakMap<D1Database, OutboxStatements>();

/**
 * The outbox write, one D1 round trip: the event, every delivery (one statement), and the type's
 * registration when `registerType`. `nextAttemptAt` is when a consumer may first claim them.
 */
export async function writeOutbox(
  db: Db,
  event: Omit<EventRow, "entity"> & { entity: string },
  rows: { id: string; webhookId: string }[],
  opts: { nextAttemptAt: number; isTest: boolean; registerType: boolean },
) {
  const s = memo(prepared, db.$client, () => {
    const client = db.$client;
    return Object.fromEntries(Object.entries(OUTBOX_SQL).map(([k, q]) => [k, client.prepare(q)])) as OutboxStatements;
  });
  const { id, accountId, type, entity, idempotencyKey, createdAt } = event;
  const deliveriesJson = JSON.stringify(rows.map((r) => ({ id: r.id, webhookId: r.webhookId })));
  await db.$client.batch([
    s.event.bind(id, accountId, type, entity, idempotencyKey, createdAt),
    ...(opts.registerType ? [s.eventType.bind(accountId, type, createdAt)] : []),
    ...(rows.length > 0
      ? [s.deliveries.bind(deliveriesJson, accountId, id, opts.nextAttemptAt, opts.isTest ? 1 : 0, createdAt)]
      : []),
  ]);
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

import { and, asc, eq, lt } from "drizzle-orm";
import type { Db } from "../../db/client";
import { deliveries, type DeliveryRow, events, type EventRow, eventTypes, webhooks } from "../../db/schema";

export function activeWebhooks(db: Db, accountId: string) {
  return db
    .select({ id: webhooks.id, events: webhooks.events, filter: webhooks.filter })
    .from(webhooks)
    .where(and(eq(webhooks.accountId, accountId), eq(webhooks.status, "active")))
    .all();
}

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

/**
 * The outbox write: the event, one delivery per matching webhook and the type's registration,
 * in one batch. D1 caps bound parameters at 100 per query, so deliveries go one per statement.
 */
export async function insertEvent(db: Db, event: EventRow, rows: DeliveryRow[], registerType: boolean) {
  const typeRow = { accountId: event.accountId, name: event.type, createdAt: event.createdAt };
  await db.batch([
    db.insert(events).values(event),
    ...(registerType ? [db.insert(eventTypes).values(typeRow).onConflictDoNothing()] : []),
    ...rows.map((r) => db.insert(deliveries).values(r)),
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

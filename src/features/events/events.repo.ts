import { and, asc, eq, gte, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { type AuditRow, attempts, deliveries, type EventRow, events, eventTypes } from "../../db/schema";
import { insertAudit } from "../audit/audit.repo";
import { bumpVersion } from "../webhooks/webhooks.repo";

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

export function accountEventTypes(db: Db, accountId: string) {
  return db.select().from(eventTypes).where(eq(eventTypes.accountId, accountId)).orderBy(asc(eventTypes.name)).all();
}

export function findEventType(db: Db, accountId: string, name: string) {
  return db
    .select()
    .from(eventTypes)
    .where(and(eq(eventTypes.accountId, accountId), eq(eventTypes.name, name)))
    .get();
}

/**
 * Writes a type (new or changed) and bumps the account's webhooks version in one batch: publishing
 * caches the schemas it checks with the webhooks, by that version, so no isolate checks an old one.
 */
export async function saveEventType(db: Db, row: typeof eventTypes.$inferInsert) {
  const { accountId, name, createdAt, ...changed } = row;
  const [saved] = await db.batch([
    db
      .insert(eventTypes)
      .values(row)
      .onConflictDoUpdate({ target: [eventTypes.accountId, eventTypes.name], set: changed })
      .returning(),
    bumpVersion(db, accountId),
  ]);
  return saved[0];
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

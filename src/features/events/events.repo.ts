import { and, asc, eq, lt, sql } from "drizzle-orm";
import { asStatement, type Db } from "../../db/client";
import { type AuditRow, events, eventTypes } from "../../db/schema";
import { insertAudit } from "../audit/audit.repo";
import { reviseEvents, writeStatement } from "../history/event-rows.repo";
import { idOfDelivery, readStoredEvent, type StoredEvent } from "../history/stored-event";
import { bumpVersion } from "../webhooks/webhooks.repo";

async function oneEvent(db: Db, where: string, ...params: unknown[]): Promise<StoredEvent | undefined> {
  const row = await db.$client
    .prepare(`SELECT * FROM events WHERE ${where}`)
    .bind(...params)
    .first<Record<string, unknown>>();
  return row ? readStoredEvent(row) : undefined;
}

export const findByIdempotencyKey = (db: Db, accountId: string, key: string) =>
  oneEvent(db, "account_id = ?1 AND idempotency_key = ?2", accountId, key);

/** An idempotency key is kept 24 h: past that, the old event lets go of it. */
export function releaseIdempotencyKey(db: Db, accountId: string, key: string, before: number) {
  return db
    .update(events)
    .set({ idempotencyKey: null })
    .where(and(eq(events.accountId, accountId), eq(events.idempotencyKey, key), lt(events.createdAt, before)))
    .run();
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

export const findEvent = (db: Db, accountId: string, id: string) =>
  oneEvent(db, "id = ?1 AND account_id = ?2", id, accountId);

/**
 * An event without its content: the entity `{}`, its attempts' request and response bodies gone,
 * its pending deliveries cancelled. Ids, times, types and statuses stay for the history.
 */
function withoutContent(e: StoredEvent, at: number): StoredEvent {
  return {
    ...e,
    entity: "{}",
    contentDeletedAt: e.contentDeletedAt ?? at,
    attempts: e.attempts.map((t) => ({ ...t, o: null, ...(t.b === undefined ? {} : { b: null }) })),
    deliveries: e.deliveries.map((d) => {
      if (d.s !== "pending") return d;
      const { x: _x, k: _k, q: _q, o: _o, ...rest } = d;
      return { ...rest, s: "cancelled" as const, u: at - e.createdAt };
    }),
  };
}

/**
 * Expunges one event's content (`withoutContent`) with the audit entry, written only if this
 * write was the one that deleted it, in one batch; a row changed meanwhile is read again. Answers
 * the cancelled deliveries' ids, or null if the content was already gone.
 */
export async function deleteContent(db: Db, event: StoredEvent, at: number, audit: AuditRow) {
  let current: StoredEvent | undefined = event;
  for (let attempt = 0; attempt < 3 && current; attempt++) {
    if (current.contentDeletedAt !== null) return null;
    const changed = withoutContent(current, at);
    const cancelled = current.deliveries.flatMap((d, i) =>
      d.s === "pending" ? [idOfDelivery(current?.id ?? "", i, d)] : [],
    );
    const [written] = await db.$client.batch([
      await writeStatement(db, changed),
      asStatement(
        db,
        insertAudit(
          db,
          audit,
          sql`EXISTS (SELECT 1 FROM ${events} WHERE ${events.id} = ${event.id} AND ${events.contentDeletedAt} = ${at})`,
        ),
      ),
    ]);
    if ((written?.results.length ?? 0) > 0) return cancelled;
    current = await findEvent(db, event.accountId, event.id);
  }
  return null;
}

/**
 * The retention in D1: the content of events older than `beforeId` (from `fromId` on, at most
 * `limit`) is deleted as `deleteContent` does. Answers the ids changed.
 */
export async function expireEvents(db: Db, fromId: string, beforeId: string, at: number, limit: number) {
  const { results } = await db.$client
    .prepare(`SELECT id FROM events WHERE id >= ?1 AND id < ?2 AND content_deleted_at IS NULL ORDER BY id LIMIT ?3`)
    .bind(fromId, beforeId, limit)
    .all<{ id: string }>();
  const ids = results.map((r) => r.id);
  const written = await reviseEvents(db, ids, (e) => (e.contentDeletedAt === null ? withoutContent(e, at) : null));
  return { scanned: ids, expired: written.map((e) => ({ id: e.id, accountId: e.accountId })) };
}

import { and, desc, eq, gte, inArray, lt, lte, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { attempts, type AttemptRow, deliveries, type DeliveryRow, events, webhooks, type WebhookRow } from "../../db/schema";

/**
 * Claims a due delivery by moving `nextAttemptAt` to the end of a lease (a second message for the
 * same delivery — a queue duplicate, a cron re-queue — finds it not due and is acked without
 * sending), and reads its event and webhook: one batch, so one D1 round trip. The reads are
 * separate statements, not a join: D1 batch results are keyed by column name, and a join's
 * same-named columns (`id`, `account_id`, …) would overwrite each other. `webhook` is undefined if
 * it was deleted; nothing is claimed when `delivery` is undefined.
 */
export async function claimForSend(db: Db, id: string, now: number, leaseUntil: number) {
  const ofDelivery = (column: typeof deliveries.eventId | typeof deliveries.webhookId) =>
    sql`(SELECT ${column} FROM ${deliveries} WHERE ${deliveries.id} = ${id})`;
  const [claimed, event, webhook] = await db.batch([
    db
      .update(deliveries)
      .set({ nextAttemptAt: leaseUntil, updatedAt: now })
      .where(and(eq(deliveries.id, id), eq(deliveries.status, "pending"), lte(deliveries.nextAttemptAt, now + 5_000)))
      .returning(),
    db.select().from(events).where(eq(events.id, ofDelivery(deliveries.eventId))),
    db.select().from(webhooks).where(eq(webhooks.id, ofDelivery(deliveries.webhookId))),
  ]);
  return { delivery: claimed[0], event: event[0], webhook: webhook[0] };
}

export interface Outcome {
  attempt: AttemptRow | null;
  delivery: Partial<DeliveryRow>;
  webhook: Partial<WebhookRow> | null;
}

/** The attempt, the delivery's new state and the webhook's health, in one batch. */
export async function recordOutcome(db: Db, deliveryId: string, webhookId: string, o: Outcome) {
  await db.batch([
    db.update(deliveries).set(o.delivery).where(eq(deliveries.id, deliveryId)),
    ...(o.attempt ? [db.insert(attempts).values(o.attempt)] : []),
    ...(o.webhook ? [db.update(webhooks).set(o.webhook).where(eq(webhooks.id, webhookId))] : []),
  ]);
}

export function listAttempts(db: Db, accountId: string, webhookId: string, limit: number) {
  return db
    .select()
    .from(attempts)
    .where(and(eq(attempts.accountId, accountId), eq(attempts.webhookId, webhookId)))
    .orderBy(desc(attempts.id))
    .limit(limit)
    .all();
}

export function getDelivery(db: Db, accountId: string, id: string) {
  return db
    .select()
    .from(deliveries)
    .where(and(eq(deliveries.id, id), eq(deliveries.accountId, accountId)))
    .get();
}

/**
 * Makes deliveries due now again (manual retry, recover, the cron); answers the ids it changed.
 * Chunked: D1 allows 100 bound parameters per query.
 */
export async function makeDue(db: Db, ids: string[], now: number) {
  const changed: string[] = [];
  for (let i = 0; i < ids.length; i += 90) {
    const rows = await db
      .update(deliveries)
      .set({ status: "pending", nextAttemptAt: now, updatedAt: now })
      .where(inArray(deliveries.id, ids.slice(i, i + 90)))
      .returning({ id: deliveries.id });
    changed.push(...rows.map((r) => r.id));
  }
  return changed;
}

export function markFailed(db: Db, id: string, now: number) {
  return db.update(deliveries).set({ status: "failed", nextAttemptAt: null, updatedAt: now }).where(eq(deliveries.id, id));
}

export function failedSince(db: Db, accountId: string, webhookId: string, since: number) {
  return db
    .select({ id: deliveries.id })
    .from(deliveries)
    .where(
      and(
        eq(deliveries.accountId, accountId),
        eq(deliveries.webhookId, webhookId),
        eq(deliveries.status, "failed"),
        gte(deliveries.createdAt, since),
      ),
    )
    .limit(1000)
    .all();
}

export async function testSendsSince(db: Db, webhookId: string, since: number) {
  const row = await db
    .select({ n: sql<number>`count(*)` })
    .from(deliveries)
    .where(and(eq(deliveries.webhookId, webhookId), eq(deliveries.isTest, true), gte(deliveries.createdAt, since)))
    .get();
  return row?.n ?? 0;
}

/** Pending deliveries whose time is well past: their queue message was lost, or their consumer died. */
export function overdue(db: Db, before: number, limit: number) {
  return db
    .select({ id: deliveries.id })
    .from(deliveries)
    .where(and(eq(deliveries.status, "pending"), lt(deliveries.nextAttemptAt, before)))
    .limit(limit)
    .all();
}

/** Keeps the last `keep` attempts per webhook. */
export function pruneAttempts(db: Db, keep: number) {
  return db.run(sql`DELETE FROM ${attempts} WHERE ${attempts.id} IN (
    SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY webhook_id ORDER BY id DESC) AS n FROM ${attempts})
    WHERE n > ${keep})`);
}

export function clearIdempotencyKeys(db: Db, before: number) {
  return db
    .update(events)
    .set({ idempotencyKey: null })
    .where(and(lt(events.createdAt, before), sql`${events.idempotencyKey} IS NOT NULL`))
    .run();
}

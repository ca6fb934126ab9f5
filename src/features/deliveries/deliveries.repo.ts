import { and, eq, gte, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { deliveries, events } from "../../db/schema";

/** The delivery, and when its event's content was deleted (null: it still has it). */
export function getDelivery(db: Db, accountId: string, id: string) {
  return db
    .select({ delivery: deliveries, contentDeletedAt: events.contentDeletedAt })
    .from(deliveries)
    .innerJoin(events, eq(events.id, deliveries.eventId))
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

/** Failed deliveries that can be sent again (their event still has its content). */
export function failedSince(db: Db, accountId: string, webhookId: string, since: number) {
  return db
    .select({ id: deliveries.id })
    .from(deliveries)
    .innerJoin(events, eq(events.id, deliveries.eventId))
    .where(
      and(
        eq(deliveries.accountId, accountId),
        eq(deliveries.webhookId, webhookId),
        eq(deliveries.status, "failed"),
        gte(deliveries.createdAt, since),
        isNull(events.contentDeletedAt),
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

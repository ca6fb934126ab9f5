import { and, eq, gte, inArray, isNull, lt, sql } from "drizzle-orm";
import { type Db, jsonColumn } from "../../db/client";
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

/** An event a replay may send to a webhook: none of its deliveries there, or only a failed one. */
export interface ReplayCandidate {
  eventId: string;
  type: string;
  entity: Record<string, unknown>;
  deliveryId: string | null;
}

/**
 * The account's events in [from, before) (ids) of these types (`["*"]`: all) that the webhook has
 * not received: no delivery to it (published while it was disabled, say), or a
 * failed one. Never a test event, nor one whose content was deleted. Oldest first.
 */
export async function replayCandidates(
  db: Db,
  q: { accountId: string; webhookId: string; from: string; before: string; types: string[]; limit: number },
): Promise<ReplayCandidate[]> {
  const { results } = await db.$client
    .prepare(
      `SELECT e.id AS event_id, e.type, e.entity, d.id AS delivery_id
         FROM events e LEFT JOIN deliveries d ON d.event_id = e.id AND d.webhook_id = ?2
        WHERE e.account_id = ?1 AND e.id >= ?3 AND e.id < ?4 AND e.content_deleted_at IS NULL
          AND (?5 = '["*"]' OR e.type IN (SELECT value FROM json_each(?5)))
          AND e.type <> 'webhook.test'
          AND NOT EXISTS (SELECT 1 FROM deliveries t WHERE t.event_id = e.id AND t.is_test = 1)
          AND (d.id IS NULL OR d.status = 'failed')
        ORDER BY e.id LIMIT ?6`,
    )
    .bind(q.accountId, q.webhookId, q.from, q.before, JSON.stringify(q.types), q.limit)
    .all<{ event_id: string; type: string; entity: string; delivery_id: string | null }>();
  return results.map((r) => ({
    eventId: r.event_id,
    type: r.type,
    entity: jsonColumn<Record<string, unknown>>(r.entity) ?? {},
    deliveryId: r.delivery_id,
  }));
}

/**
 * A replay's deliveries, held: new ones for events the webhook never had, failed ones made pending
 * again — each only if no one else did it first (the unique (event, webhook) index, the failed
 * status), so a replay repeated or racing another sends each event once. They are due at `heldUntil`
 * (the sweeper's fallback) until their slots are known. Answers the deliveries this call owns.
 */
export async function holdForReplay(
  db: Db,
  w: { accountId: string; webhookId: string; fresh: { id: string; eventId: string }[]; failed: string[] },
  heldUntil: number,
  now: number,
): Promise<{ id: string; eventId: string }[]> {
  const d1 = db.$client;
  const [inserted, revived] = await d1.batch<{ id: string; event_id: string }>([
    d1
      .prepare(
        `INSERT INTO deliveries (id, account_id, event_id, webhook_id, status, attempts, next_attempt_at, is_test, created_at, updated_at)
         SELECT value ->> 0, ?1, value ->> 1, ?2, 'pending', 0, ?3, 0, ?4, ?4 FROM json_each(?5)
          WHERE EXISTS (SELECT 1 FROM events WHERE id = value ->> 1)
         ON CONFLICT (event_id, webhook_id) DO NOTHING RETURNING id, event_id`,
      )
      .bind(w.accountId, w.webhookId, heldUntil, now, JSON.stringify(w.fresh.map((f) => [f.id, f.eventId]))),
    d1
      .prepare(
        `UPDATE deliveries SET status = 'pending', next_attempt_at = ?2, updated_at = ?3
          WHERE id IN (SELECT value FROM json_each(?1)) AND status = 'failed' RETURNING id, event_id`,
      )
      .bind(JSON.stringify(w.failed), heldUntil, now),
  ]);
  return [...(inserted?.results ?? []), ...(revived?.results ?? [])].map((r) => ({ id: r.id, eventId: r.event_id }));
}

/** Each held delivery's slot: due then, holding it (`pace.ts`). */
export async function assignSlots(db: Db, slots: { id: string; slot: number }[], now: number) {
  for (let i = 0; i < slots.length; i += 500) {
    await db.$client
      .prepare(
        `UPDATE deliveries SET next_attempt_at = v.slot, slot_at = v.slot, updated_at = ?2
          FROM (SELECT value ->> 0 AS id, value ->> 1 AS slot FROM json_each(?1)) AS v
          WHERE deliveries.id = v.id AND deliveries.status = 'pending'`,
      )
      .bind(JSON.stringify(slots.slice(i, i + 500).map((s) => [s.id, s.slot])), now)
      .run();
  }
}

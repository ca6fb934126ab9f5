import type { Db } from "../../db/client";
import { idFloor } from "../../lib/encoding";
import { readStoredJson } from "../../lib/json-depth";
import { reviseEvents, selectEvents } from "../history/event-rows.repo";
import {
  deliveryId,
  idOfDelivery,
  MAX_DELIVERIES_PER_EVENT,
  type StoredDelivery,
  type StoredEvent,
  toHistoryDelivery,
} from "../history/stored-event";
import { byEvent, changeDeliveries } from "./pipeline.repo";

/**
 * Deliveries by hand and the sweeper's: found in their events' rows (`stored-event.ts`). What is
 * rare (a retry by hand, a replay) reads the row and writes it back guarded (`event-rows.repo.ts`);
 * what the sweeper does to pending deliveries is the pipeline's own in-place change.
 */

/** A delivery of the account, with its event (null if there is none such in D1). */
export async function getDelivery(db: Db, accountId: string, id: string) {
  const ref = [...(await byEvent(db, [id]))][0];
  if (!ref) return null;
  const [eventId, [named]] = ref;
  const [event] = await selectEvents(db, [eventId]);
  if (!event || event.accountId !== accountId || !named) return null;
  const index = named.index ?? event.deliveries.findIndex((d) => d.i === id);
  const stored = event.deliveries[index];
  if (!stored) return null;
  return { delivery: toHistoryDelivery(event.id, event.createdAt, index, stored), event };
}

/** A pending delivery's fields that end with it. */
function madeDue(e: StoredEvent, d: StoredDelivery, at: number): StoredDelivery {
  const { k: _k, q: _q, o: _o, ...rest } = d;
  return { ...rest, s: "pending", x: at - e.createdAt, u: at - e.createdAt };
}

/**
 * Makes deliveries pending and due now, whatever their state (a retry by hand, a recovery), with
 * their event unpacked to be sent again; answers the ids it changed.
 */
export async function revive(db: Db, ids: readonly string[], at: number) {
  const refs = await byEvent(db, ids);
  const written = await reviseEvents(db, [...refs.keys()], (e) => {
    const named = refs.get(e.id) ?? [];
    const hit = new Set(named.map((r) => r.index ?? e.deliveries.findIndex((d) => d.i === r.id)));
    if (![...hit].some((i) => e.deliveries[i] !== undefined)) return null;
    return {
      ...e,
      packed: false,
      deliveries: e.deliveries.map((d, i) => (hit.has(i) ? madeDue(e, d, at) : d)),
    };
  });
  return written.flatMap((e) => (refs.get(e.id) ?? []).map((r) => r.deliveryId));
}

/** Pending deliveries due now again, the sweeper's (their lease or message is gone). */
export function requeue(db: Db, ids: readonly string[], at: number) {
  return changeDeliveries(
    db,
    ids.map((id) => ({ deliveryId: id, patch: { x: at, k: null, q: null, u: at } })),
  );
}

/**
 * Failed deliveries of a webhook in events since `since` that can be sent again (their event
 * still has its content). Events have no account index: the range of their ids is read.
 */
export async function failedSince(db: Db, accountId: string, webhookId: string, since: number) {
  const { results } = await db.$client
    .prepare(
      `SELECT e.id AS event_id, d.key AS idx, d.value->>'i' AS old FROM events e, json_each(e.deliveries) d
        WHERE e.id >= ?3 AND e.account_id = ?1 AND e.content_deleted_at IS NULL
          AND d.value->>'w' = ?2 AND d.value->>'s' = 'failed' LIMIT 1000`,
    )
    .bind(accountId, webhookId, idFloor("evt", since))
    .all<{ event_id: string; idx: number; old: string | null }>();
  return results.map((r) => r.old ?? deliveryId(r.event_id, Number(r.idx)));
}

/**
 * Pending deliveries whose time is well past (`before`) and that no consumer holds (`now`): their
 * queue message was lost, or their consumer died. Found through the due index.
 */
export async function overdue(db: Db, before: number, now: number, limit: number) {
  const { results } = await db.$client
    .prepare("SELECT id, created_at, deliveries FROM events WHERE due_at < ?1 ORDER BY due_at LIMIT ?2")
    .bind(before, limit)
    .all<{ id: string; created_at: number; deliveries: string }>();
  const ids: string[] = [];
  for (const r of results) {
    const created = Number(r.created_at);
    const list = (readStoredJson(r.deliveries) ?? []) as StoredDelivery[];
    list.forEach((d, i) => {
      const due = d.x === undefined ? null : created + d.x;
      const held = d.k !== undefined && created + d.k > now;
      if (d.s === "pending" && due !== null && due < before && !held) ids.push(idOfDelivery(r.id, i, d));
    });
  }
  return ids;
}

/** An event a replay may send to a webhook: none of its deliveries there, or only a failed one. */
export interface ReplayCandidate {
  eventId: string;
  type: string;
  entity: Record<string, unknown>;
}

/** Whether the webhook has not received the event (no delivery to it but a failed one), nor is it a test. */
const missed = (e: StoredEvent, webhookId: string) =>
  e.contentDeletedAt === null &&
  e.type !== "webhook.test" &&
  !e.deliveries.some((d) => d.t === 1) &&
  !e.deliveries.some((d) => d.w === webhookId && d.s !== "failed");

/**
 * The account's events in [from, before) (ids) of these types (`["*"]`: all) that the webhook has
 * not received: no delivery to it (published while it was disabled, say), or a failed one. Never
 * a test event, nor one whose content was deleted. Oldest first.
 */
export async function replayCandidates(
  db: Db,
  q: { accountId: string; webhookId: string; from: string; before: string; types: string[]; limit: number },
): Promise<ReplayCandidate[]> {
  const { results } = await db.$client
    .prepare(
      `SELECT e.id FROM events e
        WHERE e.account_id = ?1 AND e.id >= ?3 AND e.id < ?4 AND e.content_deleted_at IS NULL
          AND (?5 = '["*"]' OR e.type IN (SELECT value FROM json_each(?5))) AND e.type <> 'webhook.test'
          AND NOT EXISTS (SELECT 1 FROM json_each(e.deliveries) d
            WHERE d.value->>'t' = 1 OR (d.value->>'w' = ?2 AND d.value->>'s' <> 'failed'))
        ORDER BY e.id LIMIT ?6`,
    )
    .bind(q.accountId, q.webhookId, q.from, q.before, JSON.stringify(q.types), q.limit)
    .all<{ id: string }>();
  const events = await selectEvents(
    db,
    results.map((r) => r.id),
  );
  return events.map((e) => ({
    eventId: e.id,
    type: e.type,
    entity: (readStoredJson(e.entity) ?? {}) as Record<string, unknown>,
  }));
}

/**
 * A replay's deliveries, held: a new one where the webhook has none, a failed one made pending
 * again — each only if no one else did it first (the check is made again on the row as written),
 * so a replay repeated or racing another sends each event once. They are due at `heldUntil` (the
 * sweeper's fallback) until their slots are known. Answers the deliveries this call owns.
 */
export async function holdForReplay(
  db: Db,
  webhookId: string,
  eventIds: readonly string[],
  heldUntil: number,
  now: number,
): Promise<{ id: string; eventId: string }[]> {
  const owned = new Map<string, string>();
  const written = await reviseEvents(db, eventIds, (e) => {
    if (!missed(e, webhookId)) return null;
    const failed = e.deliveries.findIndex((d) => d.w === webhookId);
    const held = (d: StoredDelivery): StoredDelivery => ({ ...madeDue(e, d, now), x: heldUntil - e.createdAt });
    if (failed >= 0) {
      owned.set(e.id, idOfDelivery(e.id, failed, e.deliveries[failed] as StoredDelivery));
      return { ...e, packed: false, deliveries: e.deliveries.map((d, i) => (i === failed ? held(d) : d)) };
    }
    if (e.deliveries.length >= MAX_DELIVERIES_PER_EVENT) return null;
    owned.set(e.id, deliveryId(e.id, e.deliveries.length));
    const fresh: StoredDelivery = { w: webhookId, s: "pending", n: 0, c: now - e.createdAt };
    return { ...e, packed: false, deliveries: [...e.deliveries, held(fresh)] };
  });
  return written.map((e) => ({ id: owned.get(e.id) as string, eventId: e.id }));
}

/** Each held delivery's slot: due then, holding it (`pace.ts`); one no longer pending is left. */
export function assignSlots(db: Db, slots: readonly { id: string; slot: number }[], now: number) {
  return changeDeliveries(
    db,
    slots.map((s) => ({ deliveryId: s.id, patch: { x: s.slot, o: s.slot, u: now } })),
  );
}

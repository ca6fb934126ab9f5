import type { Db } from "../../db/client";
import { jsonColumn } from "../../db/client";
import { memo } from "../../lib/memo";
import type { SentEvent } from "../events/sent-event";
import {
  deliveryId,
  idOfDelivery,
  pack,
  parseDeliveryId,
  type StoredAttempt,
  type StoredDelivery,
  toStoredAttempt,
} from "../history/stored-event";
import type { WebhookTarget } from "../webhooks/targets";
import type { Outcome } from "./attempt";
import { APPLIES, CLAIMABLE, DUE, EVENT_COLUMNS, NAMES, NEXT_FINAL_ROWID, PATCH } from "./delivery-sql";
import type { EventSnapshot } from "./job";

/**
 * The delivery pipeline's statements. A delivery lives in its event's row (`stored-event.ts`), so
 * each step changes one row per event, whatever the number of its deliveries: the changes go in as
 * one JSON parameter, matched to the deliveries by `json_each`. The SQL is written out (not built
 * by Drizzle) and prepared once per isolate: this is the hot path of webhooks.
 * @see https://developers.cloudflare.com/d1/platform/limits/
 */

const SQL = {
  /**
   * A consumer claims the due deliveries among those named (?2) by giving them a lease (?3) and its
   * token (?6); the row answers what it holds. Nothing is written when none is claimable.
   */
  claim: `UPDATE events SET deliveries = (
        SELECT json_group_array(json(CASE WHEN ${CLAIMABLE}
          THEN json_set(d.value, '$.k', ?3 - events.created_at, '$.q', ?6) ELSE d.value END) ORDER BY d.key)
        FROM json_each(events.deliveries) d LEFT JOIN json_each(?2) u ON ${NAMES}),
      rev = rev + 1
    WHERE id = ?1 AND packed IS NULL
      AND EXISTS (SELECT 1 FROM json_each(events.deliveries) d JOIN json_each(?2) u ON ${NAMES} WHERE ${CLAIMABLE})
    RETURNING id, account_id, type, entity, created_at, deliveries, attempts, rev`,
  /** The webhooks of those events' deliveries (the same batch, after the claims). */
  webhooks: `SELECT w.id, w.account_id, w.url, w.status, w.secret, w.previous_secret, w.previous_secret_expires_at,
      w.failing_since, w.disabled_reason, w.updated_at, w.headers, w.throttle, w.timeout_ms
    FROM webhooks w WHERE w.id IN (SELECT DISTINCT d.value->>'w' FROM events e, json_each(e.deliveries) d
      WHERE e.id IN (SELECT value FROM json_each(?1)))`,
  /**
   * Deliveries' new states (?2: `{i|id, p: patch, n?: attempts expected, g?: status expected}`),
   * each only where it still is what the change expects (no other try of the same number recorded
   * first; not cancelled while in flight), and attempts appended (?3) — without their response
   * body when the event's content was deleted meanwhile. Not on a packed event (nothing pending).
   */
  change: `UPDATE events SET (deliveries, attempts, due_at, rev) = (
        SELECT n.d, n.a, ${DUE}, events.rev + 1 FROM (SELECT
          (SELECT json_group_array(json(CASE WHEN ${APPLIES} THEN json_patch(d.value, ${PATCH}) ELSE d.value END)
              ORDER BY d.key)
            FROM json_each(events.deliveries) d LEFT JOIN json_each(?2) u ON ${NAMES}) AS d,
          CASE WHEN json_array_length(?3) = 0 THEN events.attempts ELSE
            (SELECT json_group_array(json(v)) FROM (
              SELECT value AS v FROM json_each(coalesce(events.attempts, '[]'))
              UNION ALL
              SELECT CASE WHEN events.content_deleted_at IS NULL THEN value ELSE json_set(value, '$.o', NULL) END
                FROM json_each(?3))) END AS a) n)
    WHERE id = ?1 AND packed IS NULL
    RETURNING id, rev, created_at, entity, deliveries, attempts, due_at`,
  /**
   * Outcomes that end every pending delivery of an event, written with the event packed (?4: its
   * entity and attempts) as a final row (`NEXT_FINAL_ROWID`), only if the row is still as the jobs
   * saw it (?3: its `rev`). Else `change` follows in the same batch (it skips a packed row).
   */
  changePacked: `REPLACE INTO events (rowid, ${EVENT_COLUMNS})
    SELECT ${NEXT_FINAL_ROWID}, x.id, x.account_id, x.type, NULL, x.idempotency_key, x.created_at, x.content_deleted_at,
        x.d, NULL, ?4, NULL, x.rev + 1
      FROM (SELECT events.*, (SELECT json_group_array(json(CASE WHEN ${APPLIES} THEN json_patch(d.value, ${PATCH})
              ELSE d.value END) ORDER BY d.key)
            FROM json_each(events.deliveries) d LEFT JOIN json_each(?2) u ON ${NAMES}) AS d
        FROM events WHERE id = ?1 AND rev = ?3 AND packed IS NULL) x
      WHERE NOT EXISTS (SELECT 1 FROM json_each(x.d) j WHERE j.value->>'s' = 'pending')`,
  /** A final event's entity and attempts packed into its row (written again, final), if nothing changed since (?2). */
  pack: `REPLACE INTO events (rowid, ${EVENT_COLUMNS})
    SELECT ${NEXT_FINAL_ROWID}, id, account_id, type, NULL, idempotency_key, created_at, content_deleted_at, deliveries,
        NULL, ?3, NULL, rev + 1
      FROM events WHERE id = ?1 AND rev = ?2 AND due_at IS NULL AND packed IS NULL`,
  /** A health change is a webhook change: the isolates' copies of these accounts' webhooks are stale. */
  bumpVersions: `UPDATE accounts SET webhooks_version = webhooks_version + 1 WHERE id IN (SELECT value FROM json_each(?1))`,
  /**
   * Each webhook's latest outcome in a group (?1: `[id, at, status, succeeded]`): a success ends a
   * failing streak, a failure starts one (the auto-disable clock); its latest attempt and success
   * are kept on its row, written only when the health changes or what is kept is a minute old —
   * at most a row per webhook a minute, whatever the traffic.
   */
  webhookHealth: `UPDATE webhooks SET
      failing_since = CASE WHEN v.ok THEN NULL ELSE coalesce(failing_since, v.at) END,
      last_attempt_at = v.at, last_attempt_status = v.status, last_attempt_succeeded = v.ok,
      last_success_at = CASE WHEN v.ok THEN max(coalesce(last_success_at, 0), v.at) ELSE last_success_at END
    FROM (SELECT value->>0 AS id, value->>1 AS at, value->>2 AS status, value->>3 AS ok FROM json_each(?1)) AS v
    WHERE webhooks.id = v.id AND ((v.ok AND failing_since IS NOT NULL) OR (NOT v.ok AND failing_since IS NULL)
      OR last_attempt_at IS NULL OR last_attempt_at < v.at - 60000 OR last_attempt_succeeded IS NOT v.ok)`,
  /** The events named by deliveries made before ids named their event. */
  aliases: "SELECT id, event_id FROM delivery_aliases WHERE id IN (SELECT value FROM json_each(?1))",
} as const;

type Statements = { [K in keyof typeof SQL]: D1PreparedStatement };
const prepared = new WeakMap<D1Database, Statements>();

const statements = (db: Db): Statements =>
  memo(prepared, db.$client, () => {
    const client = db.$client;
    return Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, client.prepare(sql)])) as Statements;
  });

/** A change to one delivery: by index (or old id), the patch (times absolute), and what it must still be. */
export interface DeliveryChange {
  deliveryId: string;
  patch: Partial<Record<keyof StoredDelivery, unknown>>;
  /** The attempts it must have made (an outcome: one less than it records). */
  attempts?: number;
  /** The status it must have (default pending). */
  status?: StoredDelivery["s"];
}

/**
 * Delivery ids by their event: new ids name it; old ones (made before migration 0015) are looked
 * up. Ids that name nothing are left out.
 */
export async function byEvent(db: Db, ids: readonly string[]) {
  const out = new Map<string, { index?: number; id?: string; deliveryId: string }[]>();
  const add = (eventId: string, ref: { index?: number; id?: string; deliveryId: string }) =>
    out.set(eventId, [...(out.get(eventId) ?? []), ref]);
  const old: string[] = [];
  for (const id of ids) {
    const parsed = parseDeliveryId(id);
    if (parsed) add(parsed.eventId, { index: parsed.index, deliveryId: id });
    else old.push(id);
  }
  if (old.length > 0) {
    const { results } = await statements(db).aliases.bind(JSON.stringify(old)).all<{ id: string; event_id: string }>();
    for (const r of results) add(r.event_id, { id: r.id, deliveryId: r.id });
  }
  return out;
}

const refOf = (ref: { index?: number; id?: string }) => (ref.index === undefined ? { id: ref.id } : { i: ref.index });

interface Claimed {
  delivery: { id: string; accountId: string; attempts: number; slotAt: number | null };
  event: SentEvent;
  webhook: WebhookTarget | null;
  snapshot: EventSnapshot;
}

type Row = Record<string, string | number | null>;

const str = (v: string | number | null | undefined) => (v === null || v === undefined ? null : String(v));
const num = (v: string | number | null | undefined) => (v === null || v === undefined ? null : Number(v));

const toWebhook = (row: Row): WebhookTarget => ({
  id: String(row.id),
  accountId: String(row.account_id),
  url: String(row.url),
  status: String(row.status),
  secret: String(row.secret),
  previousSecret: str(row.previous_secret),
  previousSecretExpiresAt: num(row.previous_secret_expires_at),
  failingSince: num(row.failing_since),
  disabledReason: str(row.disabled_reason),
  updatedAt: Number(row.updated_at),
  headers: str(row.headers),
  throttle: num(row.throttle),
  timeoutMs: num(row.timeout_ms),
  deliveryFormat: String(row.delivery_format ?? "envelope"),
});

/**
 * Claims every due delivery among `ids` and loads its event and webhook, in one D1 round trip.
 * A delivery that is finished, not yet due, or leased by another consumer is not claimed (so a
 * duplicate message, or a second consumer given the same batch, never sends it twice); the
 * claim is the UPDATE's own RETURNING: what carries this claim's token is this consumer's.
 */
export async function claimAndLoad(db: Db, ids: string[], now: number, leaseUntil: number, dueBy: number) {
  const s = statements(db);
  const events = await byEvent(db, ids);
  if (events.size === 0) return [];
  const token = crypto.randomUUID();
  const claims = [...events].map(([eventId, refs]) =>
    s.claim.bind(eventId, JSON.stringify(refs.map(refOf)), leaseUntil, dueBy, now, token),
  );
  const results = await db.$client.batch<Row>([...claims, s.webhooks.bind(JSON.stringify([...events.keys()]))]);
  const webhooks = new Map((results.at(-1)?.results ?? []).map((row) => [String(row.id), toWebhook(row)]));
  const claimed: Claimed[] = [];
  for (const result of results.slice(0, -1)) {
    for (const row of result.results) {
      const eventId = String(row.id);
      const event: SentEvent = {
        id: eventId,
        accountId: String(row.account_id),
        type: String(row.type),
        entity: String(row.entity),
        createdAt: Number(row.created_at),
      };
      const deliveries = jsonColumn<StoredDelivery[]>(row.deliveries) ?? [];
      const snapshot: EventSnapshot = {
        rev: Number(row.rev),
        deliveries,
        attempts: jsonColumn<StoredAttempt[]>(row.attempts) ?? [],
      };
      deliveries.forEach((d, index) => {
        if (d.q !== token) return;
        claimed.push({
          snapshot,
          delivery: {
            id: d.i ?? deliveryId(eventId, index),
            accountId: event.accountId,
            attempts: d.n,
            slotAt: d.o === undefined ? null : event.createdAt + d.o,
          },
          event,
          webhook: webhooks.get(d.w) ?? null,
        });
      });
    }
  }
  return claimed;
}

const eventOf = (id: string) => parseDeliveryId(id)?.eventId ?? null;

/**
 * The statements changing deliveries, one per event: `changes` by delivery, `attempts` appended
 * (already in the row's form, by event); an event in `packable` (its entity) is packed in the same
 * write when it can be (`changePacked`).
 */
async function changeStatements(
  db: Db,
  changes: readonly DeliveryChange[],
  attempts: ReadonlyMap<string, StoredAttempt[]> = new Map(),
  packable: ReadonlyMap<string, { rev: number; blob: Uint8Array }> = new Map(),
) {
  const s = statements(db);
  const byId = await byEvent(
    db,
    changes.map((c) => c.deliveryId),
  );
  const wanted = new Map(changes.map((c) => [c.deliveryId, c]));
  const eventIds = new Set([...byId.keys(), ...attempts.keys()]);
  const out: D1PreparedStatement[][] = await Promise.all(
    [...eventIds].map(async (eventId) => {
      const list = (byId.get(eventId) ?? []).flatMap((ref) => {
        const c = wanted.get(ref.deliveryId);
        if (!c) return [];
        return [
          {
            ...refOf(ref),
            p: c.patch,
            ...(c.attempts === undefined ? {} : { n: c.attempts }),
            ...(c.status === undefined ? {} : { g: c.status }),
          },
        ];
      });
      const changed = JSON.stringify(list);
      const added = attempts.get(eventId) ?? [];
      const change = s.change.bind(eventId, changed, JSON.stringify(added));
      const packed = packable.get(eventId);
      if (packed === undefined) return [change];
      return [s.changePacked.bind(eventId, changed, packed.rev, packed.blob), change];
    }),
  );
  return out;
}

/** A pending delivery's fields that end with it: its next time, a claim, a slot. */
const ENDED = { x: null, k: null, q: null, o: null, u: null } as const;

/** An outcome as a change of its delivery. */
function outcomeChange(o: Outcome): DeliveryChange {
  const d = o.delivery;
  const patch: DeliveryChange["patch"] = { ...ENDED, s: d.status, n: d.attempts, l: d.at };
  if (d.status === "pending" && d.nextAttemptAt !== null) patch.x = d.nextAttemptAt;
  return { deliveryId: d.id, patch, attempts: d.attempts - 1 };
}

/** Indexes of deliveries in their events, for the attempts' `d`. */
async function attemptsByEvent(db: Db, outcomes: readonly Outcome[]) {
  const out = new Map<string, StoredAttempt[]>();
  const old = outcomes.filter((o) => eventOf(o.delivery.id) === null).map((o) => o.delivery.id);
  const index = new Map<string, number>();
  if (old.length > 0) {
    // A delivery made before migration 0015: its index is where its old id is.
    const { results } = await db.$client
      .prepare(
        `SELECT a.id, d.key AS idx FROM delivery_aliases a JOIN events e ON e.id = a.event_id, json_each(e.deliveries) d
          WHERE a.id IN (SELECT value FROM json_each(?1)) AND d.value->>'i' = a.id`,
      )
      .bind(JSON.stringify(old))
      .all<{ id: string; idx: number }>();
    for (const r of results) index.set(r.id, Number(r.idx));
  }
  for (const o of outcomes) {
    const i = parseDeliveryId(o.delivery.id)?.index ?? index.get(o.delivery.id);
    if (i === undefined) continue;
    const list = out.get(o.job.event.id) ?? [];
    list.push(toStoredAttempt(o.attempt, i, o.job.event.createdAt));
    out.set(o.job.event.id, list);
  }
  return out;
}

/**
 * Packs the events these changes made final: their entity and attempts, compressed, into their row
 * (a final event is only read, until the archiver moves it). Only if the row did not change since;
 * one that did stays as it is (the archive takes either form).
 */
async function packFinal(db: Db, rows: Row[]) {
  const s = statements(db);
  const final = rows.filter((r) => r.due_at === null && r.entity !== null);
  if (final.length === 0) return;
  const packs = await Promise.all(
    final
      .filter((r) => !(jsonColumn<StoredDelivery[]>(r.deliveries) ?? []).some((d) => d.s === "pending"))
      .map(async (r) =>
        s.pack.bind(
          String(r.id),
          Number(r.rev),
          await pack(String(r.entity), jsonColumn<StoredAttempt[]>(r.attempts) ?? []),
        ),
      ),
  );
  if (packs.length > 0) await db.$client.batch(packs);
}

/**
 * Records a group of finished attempts in one D1 round trip: every delivery's new state and every
 * attempt (one statement per event), and — only where it changes — the health of a webhook (by its
 * latest outcome in the group, against its row as loaded with the job); then packs the events that
 * became final. Answers the accounts whose webhooks' health changed.
 *
 * The row a first attempt has is this isolate's copy, which is exact: a health change bumps the
 * account's `webhooksVersion` like any other webhook change. A success racing a failure elsewhere
 * may leave a streak open; the next success, seeing the new version's row, closes it.
 */
export async function recordOutcomes(db: Db, outcomes: Outcome[], dropped: string[], now: number) {
  const s = statements(db);
  const latest = new Map<string, Outcome>();
  for (const o of outcomes) {
    const seen = latest.get(o.attempt.webhookId);
    if (!seen || seen.attempt.createdAt <= o.attempt.createdAt) latest.set(o.attempt.webhookId, o);
  }
  const changed = [...latest.values()].filter((o) => o.attempt.succeeded === (o.job.webhook.failingSince !== null));
  const accounts = [...new Set(changed.map((o) => o.job.webhook.accountId))];
  const changes = [...outcomes.map(outcomeChange), ...dropped.map((id) => failedChange(id, now))];
  const attempts = await attemptsByEvent(db, outcomes);
  const perEvent = await changeStatements(db, changes, attempts, await packable(outcomes, attempts));
  const rows = perEvent.flat();
  const health = [...latest.values()].map((o) => [
    o.attempt.webhookId,
    o.attempt.createdAt,
    o.attempt.responseStatus,
    o.attempt.succeeded ? 1 : 0,
  ]);
  const batch: D1PreparedStatement[] = [
    ...rows,
    ...(health.length > 0 ? [s.webhookHealth.bind(JSON.stringify(health))] : []),
    ...(accounts.length > 0 ? [s.bumpVersions.bind(JSON.stringify(accounts))] : []),
  ];
  if (batch.length === 0) return accounts;
  const results = await db.$client.batch<Row>(batch);
  // An event that `changePacked` could not pack (its row changed since its jobs saw it) is packed
  // now if the outcomes made it final: one more round trip, only then.
  const withOutcomes = new Set(outcomes.map((o) => o.job.event.id));
  await packFinal(
    db,
    results
      .slice(0, rows.length)
      .flatMap((r) => r.results)
      .filter((r) => withOutcomes.has(String(r.id))),
  );
  return accounts;
}

/**
 * The events this group's outcomes make final, as their jobs saw them (`Job.snapshot`): every
 * delivery ends, so the outcomes are written with the event packed. By event id, the packed
 * entity and attempts, and the `rev` the row must still have.
 */
async function packable(outcomes: readonly Outcome[], added: ReadonlyMap<string, StoredAttempt[]>) {
  const byEventId = new Map<string, Outcome[]>();
  for (const o of outcomes) byEventId.set(o.job.event.id, [...(byEventId.get(o.job.event.id) ?? []), o]);
  const out = new Map<string, { rev: number; blob: Uint8Array }>();
  for (const [eventId, list] of byEventId) {
    const snapshot = list[0]?.job.snapshot;
    if (!snapshot || list.some((o) => o.job.snapshot !== snapshot)) continue;
    const ending = new Set(
      list.filter((o) => o.delivery.status !== "pending").map((o) => indexIn(eventId, snapshot, o.delivery.id)),
    );
    const final = snapshot.deliveries.every((d, i) => d.s !== "pending" || ending.has(i));
    if (!final || list.some((o) => o.delivery.status === "pending")) continue;
    const event = list[0]?.job.event;
    // What D1 keeps: a reference, for an entity held in R2.
    const entity = event?.stored ?? event?.entity ?? "{}";
    out.set(eventId, {
      rev: snapshot.rev,
      blob: await pack(entity, [...snapshot.attempts, ...(added.get(eventId) ?? [])]),
    });
  }
  return out;
}

/** A delivery's index in its event (an old id is found in the event's deliveries). */
const indexIn = (eventId: string, snapshot: EventSnapshot, id: string) =>
  parseDeliveryId(id)?.index ?? snapshot.deliveries.findIndex((d, i) => idOfDelivery(eventId, i, d) === id);

/** A pending delivery ended as failed (retryable by hand), without an attempt. */
function failedChange(id: string, now: number): DeliveryChange {
  return { deliveryId: id, patch: { ...ENDED, s: "failed", u: now } };
}

/**
 * Changes pending deliveries (their time, a slot) or marks them failed, in one round trip; a
 * delivery no longer in the state a change expects is left alone.
 */
export async function changeDeliveries(db: Db, changes: readonly DeliveryChange[]) {
  if (changes.length === 0) return;
  const rows = (await changeStatements(db, changes)).flat();
  if (rows.length > 0) await db.$client.batch(rows);
}

/** Marks deliveries failed (retryable by hand): their webhook or event is gone, or their messages died. */
export function markFailed(db: Db, ids: string[], now: number) {
  return changeDeliveries(
    db,
    ids.map((id) => failedChange(id, now)),
  );
}

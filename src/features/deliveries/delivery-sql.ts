import type { Db } from "../../db/client";

/**
 * SQL over an event's deliveries (`history/stored-event.ts`: a JSON array in its row), shared by
 * the pipeline's statements (`pipeline.repo.ts`) and the changes that end deliveries in the same
 * batch as their own (a webhook or an account going). Fragments read `d` (a delivery, from
 * `json_each(events.deliveries)`) and `u` (a change, from `json_each(?2)`).
 */

/**
 * Where a row sits in the table (its rowid): a final, packed event is written again after every
 * other row, so final rows fill their pages whole in the order they end (SQLite starts a new page
 * for a row appended at the end) and stay there until the archiver moves them; an event in flight
 * is inserted below `FINAL_FROM`, where rows come and go. Updated in place, a row that grows and
 * shrinks leaves its pages half empty: a third more bytes per hot event (`npm run bench:history`).
 */
export const FINAL_FROM = 2 ** 40;
export const NEXT_FINAL_ROWID = `max(coalesce((SELECT max(rowid) FROM events), 0) + 1, ${FINAL_FROM})`;
export const NEXT_IN_FLIGHT_ROWID = `coalesce((SELECT f.rowid FROM events f WHERE f.rowid < ${FINAL_FROM}
    ORDER BY f.rowid DESC LIMIT 1), 0) + 1`;

/** An event's columns, in the order the statements that write a whole row list them. */
export const EVENT_COLUMNS = `id, account_id, type, entity, idempotency_key, created_at, content_deleted_at, deliveries,
  attempts, packed, due_at, rev`;

/** A change `c` (from `json_each(?2)`) names delivery `d` (from the row): by index, or by an old id. */
export const NAMES = `(u.value->>'i' = d.key OR (u.value->>'id' IS NOT NULL AND u.value->>'id' = d.value->>'i'))`;

/** A claim takes a pending delivery that is due (?4) and not claimed by someone else (?5). */
export const CLAIMABLE = `u.value IS NOT NULL AND d.value->>'s' = 'pending' AND events.created_at + (d.value->>'x') <= ?4
  AND coalesce(events.created_at + (d.value->>'k'), 0) <= ?5`;

/** A change applies to a delivery still in the state it expects (pending; the attempts it counts). */
export const APPLIES = `u.value IS NOT NULL AND d.value->>'s' = coalesce(u.value->>'g', 'pending')
  AND (u.value->>'n' IS NULL OR d.value->>'n' = u.value->>'n')`;

/** A change's patch with its times (absolute in the parameter) made relative to the event. */
export const PATCH = `(SELECT json_group_object(p.key, CASE WHEN p.key IN ('l', 'x', 'k', 'o', 'u', 'c') AND p.type = 'integer'
    THEN p.value - events.created_at ELSE p.value END) FROM json_each(u.value->'p') p)`;

/** The earliest time a pending delivery of the (new) deliveries `n.d` is due. */
export const DUE = `(SELECT events.created_at + min(j.value->>'x') FROM json_each(n.d) j WHERE j.value->>'s' = 'pending')`;

/**
 * The pending deliveries of an account's events (?1), of one webhook (?2) or all, cancelled at ?3:
 * its webhook or the account is going. Found through the due index: pending is due.
 */
const CANCEL_PENDING = `UPDATE events SET (deliveries, due_at, rev) = (
        SELECT n.d, ${DUE}, events.rev + 1 FROM (SELECT json_group_array(json(
            CASE WHEN d.value->>'s' = 'pending' AND (?2 IS NULL OR d.value->>'w' = ?2)
              THEN json_patch(d.value, json_object('s', 'cancelled', 'x', NULL, 'k', NULL, 'q', NULL, 'o', NULL,
                'u', ?3 - events.created_at))
              ELSE d.value END) ORDER BY d.key) AS d FROM json_each(events.deliveries) d) n)
    WHERE due_at IS NOT NULL AND account_id = ?1
      AND EXISTS (SELECT 1 FROM json_each(events.deliveries) d WHERE d.value->>'s' = 'pending'
        AND (?2 IS NULL OR d.value->>'w' = ?2))`;

/** The statement cancelling the pending deliveries of an account's events (to one webhook, or all). */
export const cancelPending = (db: Db, accountId: string, webhookId: string | null, at: number) =>
  db.$client.prepare(CANCEL_PENDING).bind(accountId, webhookId, at);

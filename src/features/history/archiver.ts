import type { Db } from "../../db/client";
import { idFloor } from "../../lib/encoding";
import { readStoredJson } from "../../lib/json-depth";
import { describe, type Log } from "../../lib/log";
import { ARCHIVE_CONTENT_TYPE, archiveKey, encodeArchive } from "./archive-object";
import { forgetEntities, isEntityRef, withEntityObjects } from "./entity-object";
import { selectEvents } from "./event-rows.repo";
import * as repo from "./history.repo";
import type { HistoryEvent } from "./record";
import { toHistoryEvent } from "./stored-event";

export interface ArchiverDeps {
  db: Db;
  bucket: R2Bucket;
  now: () => number;
  log: Log;
  hotHours: number;
}

/** Events read per step; one object holds at most this many (one account's, one hour's). */
const MOVE_BATCH = 500;
const HOUR_MS = 3_600_000;

/**
 * Where the hot window ends now: with a window of an hour or more, on the hour, so an account's
 * hour of history becomes one object (the archive's objects stay few: docs/COST.md); with 0, now.
 */
function hotFloor(now: number, hotHours: number) {
  if (hotHours === 0) return now;
  const edge = now - hotHours * HOUR_MS;
  return edge - (edge % HOUR_MS);
}

/** One account's events of one hour, in id order. */
function groups<E extends HistoryEvent>(events: readonly E[]) {
  const out = new Map<string, E[]>();
  for (const e of events) {
    const key = `${e.accountId} ${Math.floor(e.createdAt / HOUR_MS)}`;
    const list = out.get(key) ?? [];
    list.push(e);
    out.set(key, list);
  }
  return [...out.values()];
}

function describeObject(accountId: string, events: HistoryEvent[], bytes: number, at: number) {
  const first = events[0]?.id ?? "";
  let lastAttemptId: string | null = null;
  const webhookIds = new Set<string>();
  for (const e of events) {
    for (const d of e.deliveries) {
      webhookIds.add(d.webhookId);
      for (const t of d.tries) if (lastAttemptId === null || t.id > lastAttemptId) lastAttemptId = t.id;
    }
  }
  return {
    accountId,
    key: archiveKey(accountId, first, at),
    firstEventId: first,
    lastEventId: events.at(-1)?.id ?? first,
    lastAttemptId,
    webhookIds: [...webhookIds],
    events: events.length,
    bytes,
    archivedAt: at,
  };
}

/** Which events a move takes, when not those past the hot window (the history over its budget). */
export interface MoveLimit {
  /** Events made before this time (ms). */
  before: number;
  /** Stop once the rows moved took this many bytes (`ROW_BYTES`, summed). */
  payload: number;
}

/**
 * Moves final events past the hot window (or those `limit` says) from D1 to R2 (the cron, every
 * minute), oldest first, until nothing is left or the run's time budget is spent. Per object, in
 * this order:
 *
 * 1. the events are read whole from D1;
 * 2. the object is written to R2, under a new key;
 * 3. one D1 batch indexes the object and deletes its events, only if none of them changed since 1.
 *
 * Readers find objects through the index only. A crash after 2 leaves the events in D1 and an
 * object nobody indexed, which is never read (account deletion and the bucket's lifecycle rule
 * remove it); the next run moves the events again. A change between 1 and 3 (a retry by hand,
 * content deleted) stops the move: the object is deleted and the events stay for a later run. So an
 * event is in the history exactly once, and leaves D1 only once its archive object exists.
 */
export async function archiveHistory(deps: ArchiverDeps, budgetMs = 20_000, limit?: MoveLimit) {
  const started = Date.now();
  /** `payload`: the bytes the moved rows took in D1 (`ROW_BYTES`). */
  const totals = { events: 0, objects: 0, skipped: 0, payload: 0 };
  const enough = () => limit !== undefined && totals.payload >= limit.payload;
  let after = "evt_";
  for (;;) {
    const before = idFloor("evt", limit?.before ?? hotFloor(deps.now(), deps.hotHours));
    const movable = await repo.movableEvents(deps.db, after, before, MOVE_BATCH);
    if (movable.length === 0) break;
    after = movable.at(-1) ?? after;
    // Each with the `rev` it was read at: the move happens only if none changed since.
    const rows = await selectEvents(deps.db, movable);
    // An entity kept in R2 goes into the archive whole; its own object goes once the move holds.
    const inR2 = new Set(rows.filter((e) => isEntityRef(e.entity)).map((e) => e.id));
    const records = await withEntityObjects(
      deps.bucket,
      rows.map((e) => ({ ...toHistoryEvent(e, readStoredJson), rev: e.rev })),
    );
    for (const events of groups(records)) {
      const accountId = events[0]?.accountId;
      if (accountId === undefined || enough()) continue;
      const body = await encodeArchive(events.map(({ rev: _rev, ...e }) => e));
      const object = describeObject(accountId, events, body.byteLength, deps.now());
      await deps.bucket.put(object.key, body, {
        httpMetadata: { contentType: ARCHIVE_CONTENT_TYPE, contentEncoding: "gzip" },
        customMetadata: { account: accountId, first: object.firstEventId, last: object.lastEventId },
      });
      const moved = await repo.moveOut(deps.db, { object, events });
      if (moved !== null) {
        await forgetEntities(
          deps.bucket,
          events.filter((e) => inR2.has(e.id)),
        ).catch((err) => deps.log("warn", "could not delete moved entities from R2", { error: describe(err) }));
        totals.events += events.length;
        totals.objects += 1;
        totals.payload += moved;
      } else {
        // Something changed under the move: nothing left D1, and the object goes (unindexed anyway).
        await deps.bucket.delete(object.key);
        totals.skipped += events.length;
      }
    }
    if (movable.length < MOVE_BATCH || enough() || Date.now() - started > budgetMs) break;
  }
  return totals;
}

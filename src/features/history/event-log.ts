import type { Db } from "../../db/client";
import type { HistoryObjectRow } from "../../db/schema";
import { idFloor } from "../../lib/encoding";
import { decodeArchive } from "./archive-object";
import { withEntityObjects } from "./entity-object";
import * as repo from "./history.repo";
import { type EventStatus, eventStatus, type HistoryEvent } from "./record";
import { parseDeliveryId } from "./stored-event";

/**
 * The event log over both homes of the history: D1 (the hot window and everything still being
 * delivered) and R2 (the archive, found through `history_objects`). Each read merges the two by id,
 * newest first; an event found in both (recalled to D1 for a retry, or moved again after a crash)
 * is shown once, from D1 first, else from the object written last.
 */

export interface LogDeps {
  db: Db;
  bucket: R2Bucket;
}

export interface EventFilter {
  accountId: string;
  type?: string;
  channel?: string;
  tag?: string;
  status?: EventStatus;
  /** Unix ms, inclusive. */
  since?: number;
  /** Unix ms, exclusive. */
  until?: number;
}

/** Objects read per page at most: a rare filter over a long archive answers a partial page and a cursor. */
const OBJECTS_PER_PAGE = 8;
/** D1 events examined per page at most (a status filter may skip most of them). */
const HOT_SCAN = 1000;

const ID_END = "evt_~";

async function readObject(bucket: R2Bucket, key: string): Promise<HistoryEvent[]> {
  const object = await bucket.get(key);
  return object ? decodeArchive(object.body) : [];
}

const matches = (e: HistoryEvent, f: EventFilter, before: string, from: string) =>
  e.id < before &&
  e.id >= from &&
  e.accountId === f.accountId &&
  (f.type === undefined || e.type === f.type) &&
  (f.channel === undefined || (e.channels ?? []).includes(f.channel)) &&
  (f.tag === undefined || (e.tags ?? []).includes(f.tag)) &&
  (f.status === undefined || eventStatus(e) === f.status);

/**
 * A page of the account's events, newest first, below `cursor` (an event id). `nextCursor` is null
 * when nothing older matches; a page may be short when the scan's bound was reached first (the
 * cursor then says where to go on).
 */
export async function listEvents(deps: LogDeps, filter: EventFilter, limit: number, cursor?: string) {
  const from = filter.since === undefined ? "evt_" : idFloor("evt", filter.since);
  let before = filter.until === undefined ? ID_END : idFloor("evt", filter.until);
  if (cursor !== undefined && cursor < before) before = cursor;
  const want = limit + 1;

  // D1: newest first, in chunks, until enough match, D1 has no more, or the scan's bound.
  const hot: HistoryEvent[] = [];
  let hotBefore = before;
  let hotExhausted = false;
  for (let scanned = 0; hot.length < want && scanned < HOT_SCAN; ) {
    const chunk = filter.status === undefined ? want - hot.length : 100;
    const ids = await repo.hotEventIds(deps.db, {
      accountId: filter.accountId,
      before: hotBefore,
      from,
      ...(filter.type === undefined ? {} : { type: filter.type }),
      ...(filter.channel === undefined ? {} : { channel: filter.channel }),
      ...(filter.tag === undefined ? {} : { tag: filter.tag }),
      limit: chunk,
    });
    scanned += ids.length;
    const records = await withEntityObjects(deps.bucket, await repo.loadRecords(deps.db, ids));
    for (const e of records.reverse()) if (matches(e, filter, before, from)) hot.push(e);
    if (ids.length < chunk) {
      hotExhausted = true;
      break;
    }
    hotBefore = ids.at(-1) ?? hotBefore;
  }
  const hotIds = new Set(hot.map((e) => e.id));
  // Where the D1 scan stopped short of both the page and the end: below it, nothing is known.
  const hotFloorId = hotExhausted || hot.length >= want ? null : hotBefore;

  // R2: objects by their newest event, newest first; stop once an object cannot hold anything newer
  // than the page's last candidate.
  const archived = new Map<string, { event: HistoryEvent; at: number }>();
  const objects = await repo.objectsFor(deps.db, filter.accountId, from, before, OBJECTS_PER_PAGE + 1);
  let read = 0;
  let archiveFloorId: string | null = null;
  for (const object of objects) {
    const candidates = [...hotIds, ...archived.keys()].sort().reverse();
    const threshold = candidates.length >= want ? candidates[want - 1] : undefined;
    if (threshold !== undefined && object.lastEventId < threshold) break;
    if (read === OBJECTS_PER_PAGE) {
      // This object is not read, so its newest event is not on the page: the page is complete
      // above that id only, and the cursor sorts just above it (ids are of one length).
      archiveFloorId = `${object.lastEventId}~`;
      break;
    }
    read += 1;
    for (const e of await readObject(deps.bucket, object.key)) {
      if (hotIds.has(e.id) || !matches(e, filter, before, from)) continue;
      const seen = archived.get(e.id);
      if (!seen || seen.at < object.archivedAt) archived.set(e.id, { event: e, at: object.archivedAt });
    }
  }

  const merged = [...hot, ...[...archived.values()].map((a) => a.event)].sort((a, b) => (a.id < b.id ? 1 : -1));
  // Anything below a bound a scan stopped at may be missing: the page ends there.
  const floors = [hotFloorId, archiveFloorId].filter((f): f is string => f !== null);
  const floor = floors.length > 0 ? floors.sort().at(-1) : undefined;
  const complete = floor === undefined ? merged : merged.filter((e) => e.id >= floor);
  const items = complete.slice(0, limit);
  const nextCursor =
    complete.length > limit ? (items.at(-1)?.id ?? null) : floor !== undefined ? (floor > from ? floor : null) : null;
  return { items, nextCursor };
}

/** One event, wherever it is; null if the account has no such event. */
export async function findEvent(deps: LogDeps, accountId: string, id: string): Promise<HistoryEvent | null> {
  if (await repo.hotEvent(deps.db, accountId, id)) {
    return (await withEntityObjects(deps.bucket, await repo.loadRecords(deps.db, [id])))[0] ?? null;
  }
  const found = await findArchived(deps, accountId, id);
  return found?.event ?? null;
}

/** An archived event and the object it was read from (the newest copy). */
export async function findArchived(
  deps: LogDeps,
  accountId: string,
  id: string,
): Promise<{ event: HistoryEvent; object: HistoryObjectRow } | null> {
  for (const object of await repo.objectsWithEvent(deps.db, accountId, id)) {
    const event = (await readObject(deps.bucket, object.key)).find((e) => e.id === id && e.accountId === accountId);
    if (event) return { event, object };
  }
  return null;
}

/**
 * The archived event a delivery belongs to: a delivery's id names its event; one made before that
 * (migration 0015) carries its event's time.
 */
export async function findDelivery(deps: LogDeps, accountId: string, deliveryId: string) {
  const named = parseDeliveryId(deliveryId);
  const time = deliveryId.slice("dlv_".length, "dlv_".length + 10);
  if (!named && (!deliveryId.startsWith("dlv_") || time.length < 10)) return null;
  // Every event published in that millisecond sorts between these two ids.
  const low = named ? named.eventId : `evt_${time}`;
  const high = named ? `${named.eventId}~` : `evt_${time}~`;
  for (const object of await repo.objectsFor(deps.db, accountId, low, high, 20)) {
    for (const event of await readObject(deps.bucket, object.key)) {
      const delivery = event.deliveries.find((d) => d.id === deliveryId);
      if (delivery && event.accountId === accountId) return { event, delivery, object };
    }
  }
  return null;
}

export interface AttemptFilter {
  accountId: string;
  webhookId: string;
  succeeded: boolean | null;
  eventType: string | null;
  since: number;
}

type LoggedAttempt = repo.AttemptWithDelivery;

/**
 * A webhook's attempts, newest first, from D1 and the archive, below `cursor` (an attempt id).
 * `spanMs`: how long after its event an attempt may be made (the retry schedule).
 */
export async function listAttempts(
  deps: LogDeps,
  filter: AttemptFilter,
  limit: number,
  spanMs: number,
  cursor?: string,
) {
  const before = cursor ?? "att_~";
  const want = limit + 1;
  const hot = await repo.hotAttempts(deps.db, { ...filter, before, limit: want }, spanMs);
  const shown = await withEntityObjects(deps.bucket, [...new Map(hot.map((a) => [a.event.id, a.event])).values()]);
  const byId = new Map(shown.map((e) => [e.id, e]));
  const found: LoggedAttempt[] = hot.map((a) => ({ ...a, event: byId.get(a.event.id) ?? a.event }));
  const seen = new Set(found.map((a) => a.id));

  const objects = await repo.objectsForWebhook(
    deps.db,
    filter.accountId,
    filter.webhookId,
    before,
    OBJECTS_PER_PAGE + 1,
  );
  let read = 0;
  let floor: string | undefined;
  for (const object of objects) {
    const ids = found
      .map((a) => a.id)
      .sort()
      .reverse();
    const threshold = ids.length >= want ? ids[want - 1] : undefined;
    if (threshold !== undefined && (object.lastAttemptId ?? "") < threshold) break;
    if (
      object.firstEventId < idFloor("evt", filter.since) &&
      (object.lastAttemptId ?? "") < idFloor("att", filter.since)
    )
      continue;
    if (read === OBJECTS_PER_PAGE) {
      // Unread, as in listEvents: complete above its newest attempt only.
      floor = object.lastAttemptId === null ? undefined : `${object.lastAttemptId}~`;
      break;
    }
    read += 1;
    for (const event of await readObject(deps.bucket, object.key)) {
      for (const d of event.deliveries) {
        if (d.webhookId !== filter.webhookId) continue;
        for (const t of d.tries) {
          if (seen.has(t.id) || t.id >= before || t.createdAt < filter.since) continue;
          if (filter.succeeded !== null && t.succeeded !== filter.succeeded) continue;
          if (filter.eventType !== null && event.type !== filter.eventType) continue;
          seen.add(t.id);
          found.push({ ...t, deliveryId: d.id, eventId: event.id, eventType: event.type, event });
        }
      }
    }
  }
  const sorted = found.sort((a, b) => (a.id < b.id ? 1 : -1));
  const complete = floor === undefined ? sorted : sorted.filter((a) => a.id >= (floor ?? ""));
  const items = complete.slice(0, limit);
  const nextCursor = complete.length > limit ? (items.at(-1)?.id ?? null) : (floor ?? null);
  return { items, nextCursor };
}

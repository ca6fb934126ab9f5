import type { Db } from "../../db/client";
import { idFloor } from "../../lib/encoding";

/**
 * What the webhook history takes in D1, read with SQL D1 allows (no `dbstat`): the bytes of its
 * rows' columns, plus what a row costs beside them — its record header, its key's index entry and
 * its share of a page's free space. The figures are calibrated against `dbstat` on the bench's
 * local database (`npm run bench:history`: 1,420 B per hot event, this says 1,450), an estimate a
 * little over the pages the rows fill, never under by much.
 */

/** A row's columns, in bytes (ASCII JSON; a multi-byte character counts once: a small under-count). */
export const ROW_BYTES = `(length(id) + length(account_id) + length(type) + coalesce(length(entity), 0)
  + coalesce(length(idempotency_key), 0) + length(deliveries) + coalesce(length(attempts), 0)
  + coalesce(length(packed), 0) + ${64})`;

/** The share of a page that rows fill (final rows: three of ~1.3 KB in 4 KiB). */
const FILL = 0.9;

/** D1 bytes of rows whose columns take `payload` bytes (`ROW_BYTES`, summed). */
export const pagesFor = (payload: number) => Math.round(payload / FILL);

/** The rows' bytes (`ROW_BYTES`, summed) that fill `bytes` of D1: the inverse of `pagesFor`. */
export const payloadFor = (bytes: number) => Math.floor(bytes * FILL);

export interface Tally {
  rows: number;
  /** `ROW_BYTES`, summed. */
  payload: number;
  /** The database's size as D1 answered this read (`meta.size_after`). */
  d1Bytes: number;
}

/**
 * The events made in [from, before) (ms; either open), by their ids (a range of the key's index;
 * with neither bound, a scan of the table).
 */
export async function countEvents(db: Db, from: number | null, before: number | null): Promise<Tally> {
  const result = await db.$client
    .prepare(
      `SELECT count(*) AS n, coalesce(sum(${ROW_BYTES}), 0) AS b FROM events
        WHERE id >= ?1 AND id < ?2`,
    )
    .bind(from === null ? "evt_" : idFloor("evt", from), before === null ? "evt_~" : idFloor("evt", before))
    .all<{ n: number | null; b: number | null }>();
  const row = result.results[0];
  return {
    rows: Number(row?.n ?? 0),
    payload: Number(row?.b ?? 0),
    d1Bytes: Number(result.meta.size_after ?? 0),
  };
}

/** The archive's objects and bytes, as its index has them. */
export async function archiveTotals(db: Db) {
  const row = await db.$client
    .prepare("SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b, coalesce(sum(events), 0) AS e FROM history_objects")
    .first<{ n: number; b: number; e: number }>();
  return { objects: Number(row?.n ?? 0), bytes: Number(row?.b ?? 0), events: Number(row?.e ?? 0) };
}

/** The database's size now, as D1 answers any read (`meta.size_after`). */
export async function d1Size(db: Db) {
  const result = await db.$client.prepare("SELECT 1").all();
  return Number(result.meta.size_after ?? 0);
}

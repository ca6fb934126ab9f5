import { randomBase62 } from "../../lib/encoding";
import { tooDeepStandIn, valueNestsDeeper } from "../../lib/json-depth";
import { gunzipNdjson, gzipNdjson } from "../../lib/ndjson";
import type { HistoryEvent } from "./record";

/**
 * The archive's object format: gzipped NDJSON, one `HistoryEvent` per line, oldest first. Chosen
 * over Parquet because a Worker writes it with the platform's own `CompressionStream` (no WASM
 * encoder in a 250 KiB bundle), reads it back line by line, and every engine reads it as it is
 * (`read_json('…ndjson.gz')` in DuckDB, `jq`, BigQuery, ClickHouse). What it costs in R2 operations
 * is one write per object, whichever the format: docs/COST.md.
 */
export const ARCHIVE_CONTENT_TYPE = "application/x-ndjson";

/**
 * `history/<account>/<first event id>.<written at>.<random>.ndjson.gz`: an object is never
 * overwritten (an event recalled to D1 and moved again goes to a new object, never over the one it
 * left), and no two writers share a key — two runs moving the same events at the same instant (a
 * Worker's clock stands still between I/O) each write their own, so the one whose move D1 refuses
 * deletes only its own object, never the one the winner indexed.
 */
export function archiveKey(accountId: string, firstEventId: string, writtenAt: number) {
  return `${accountPrefix(accountId)}${firstEventId}.${writtenAt.toString(36)}.${randomBase62(8)}.ndjson.gz`;
}

export const accountPrefix = (accountId: string) => `history/${accountId}/`;

export const encodeArchive = (events: readonly HistoryEvent[]) => gzipNdjson(events);

/**
 * The events of an object. An entity deeper than Keyhook's JSON limit (archived before the limit
 * existed) reads back as the flat stand-in stored JSON gets (`lib/json-depth.ts`).
 */
export async function decodeArchive(body: ReadableStream<Uint8Array>): Promise<HistoryEvent[]> {
  const events = await gunzipNdjson<HistoryEvent>(body);
  for (const event of events) {
    if (valueNestsDeeper(event.entity)) {
      event.entity = tooDeepStandIn(JSON.stringify(event.entity)) as Record<string, unknown>;
    }
  }
  return events;
}

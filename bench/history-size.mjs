// What the webhook history takes, read from the bench's local state: D1's bytes per table (`dbstat`
// on the local SQLite file, read-only beside the running workerd) and the R2 bucket's objects.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { STATE } from "./lib.mjs";

function d1File() {
  const dir = join(STATE, "v3/d1/miniflare-D1DatabaseObject");
  const file = readdirSync(dir).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
  return join(dir, file);
}

/**
 * Bytes of pages in use per table and index (free pages are not counted: SQLite keeps the file).
 * The history is the events table (each event's deliveries and attempts are in its row, migration
 * 0015) with its indexes, and the old delivery ids' aliases.
 */
export function d1Bytes() {
  const db = new DatabaseSync(d1File(), { readOnly: true });
  const rows = db.prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name").all();
  const counts = Object.fromEntries(
    ["events", "delivery_aliases", "history_objects"].map((t) => [
      t,
      db.prepare(`SELECT count(*) AS n FROM ${t}`).get().n,
    ]),
  );
  const packed = db.prepare("SELECT count(*) AS n FROM events WHERE packed IS NOT NULL").get().n;
  // What an event row holds, on average (bytes): where its size goes.
  const row = db
    .prepare(
      `SELECT round(avg(length(id) + length(account_id) + length(type))) AS keys, round(avg(length(deliveries))) AS deliveries,
         round(avg(coalesce(length(entity), 0))) AS entity, round(avg(coalesce(length(attempts), 0))) AS attempts,
         round(avg(coalesce(length(packed), 0))) AS packed FROM events`,
    )
    .get();
  const pages = db
    .prepare("SELECT name, sum(payload) AS payload, sum(unused) AS unused, count(*) AS pages FROM dbstat GROUP BY name")
    .all()
    .filter((p) => p.name === "events" || p.name.startsWith("sqlite_autoindex_events") || p.name.startsWith("events_"));
  // Rows per page of the events table: how full its pages are.
  const cells = Object.fromEntries(
    db
      .prepare("SELECT ncell, count(*) AS pages FROM dbstat WHERE name = 'events' AND pagetype = 'leaf' GROUP BY ncell")
      .all()
      .map((r) => [r.ncell, r.pages]),
  );
  db.close();
  const byName = Object.fromEntries(rows.map((r) => [r.name, r.bytes]));
  const group = (prefixes) =>
    Object.entries(byName)
      .filter(([n]) => prefixes.some((p) => n === p || n.startsWith(`${p}_`) || n.startsWith(`sqlite_autoindex_${p}`)))
      .reduce((s, [, b]) => s + b, 0);
  const events = group(["events"]);
  const aliases = group(["delivery_aliases"]);
  return {
    counts: { ...counts, packed },
    row,
    pages,
    rowsPerPage: cells,
    events,
    aliases,
    /** What the history takes in D1 while hot. */
    history: events + aliases,
    historyObjects: group(["history_objects"]),
    total: Object.values(byName).reduce((s, b) => s + b, 0),
  };
}

export function r2Bytes() {
  const dir = join(STATE, "v3/r2/keyhook-history/blobs");
  try {
    const files = readdirSync(dir);
    return { objects: files.length, bytes: files.reduce((s, f) => s + statSync(join(dir, f)).size, 0) };
  } catch {
    return { objects: 0, bytes: 0 };
  }
}

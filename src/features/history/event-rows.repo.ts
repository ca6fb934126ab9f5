import type { Db } from "../../db/client";
import { dueAtOf, pack, readStoredEvent, type StoredEvent } from "./stored-event";

/**
 * Event rows read and written whole, for the changes that are not the pipeline's hot path (a retry
 * by hand, a replay, content deletion, retention, a webhook's deletion): read, changed in code, and
 * written back only if no one changed the row meanwhile (`rev`), else read again. The pipeline's
 * own statements (outbox, claim, outcomes) change rows in place: `deliveries/pipeline.repo.ts`.
 */

const CHUNK = 100;

/** Whole events by id (any account: the caller has checked), unpacked, in id order. */
export async function selectEvents(db: Db, ids: readonly string[]): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) {
    const { results } = await db.$client
      .prepare("SELECT * FROM events WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id")
      .bind(JSON.stringify(ids.slice(i, i + CHUNK)))
      .all<Record<string, unknown>>();
    out.push(...(await Promise.all(results.map(readStoredEvent))));
  }
  return out;
}

/**
 * The statement writing a changed event over the one read (same `rev`): packed when it says so
 * (every delivery final), else plain. Answers its id through RETURNING only if it was written.
 */
export async function writeStatement(db: Db, e: StoredEvent) {
  const packed = e.packed ? await pack(e.entity, e.attempts) : null;
  return db.$client
    .prepare(
      `UPDATE events SET entity = ?3, content_deleted_at = ?4, deliveries = ?5, attempts = ?6, packed = ?7,
          due_at = ?8, rev = rev + 1
        WHERE id = ?1 AND rev = ?2 RETURNING id`,
    )
    .bind(
      e.id,
      e.rev,
      packed ? null : e.entity,
      e.contentDeletedAt,
      JSON.stringify(e.deliveries),
      packed ? null : JSON.stringify(e.attempts),
      packed,
      dueAtOf(e.createdAt, e.deliveries),
    );
}

/**
 * Changes events by reading them and writing them back, each only if unchanged meanwhile; a row
 * that changed is read and changed again (at most `tries` times). `change` answers the new event,
 * or null to leave it. `extra` statements for the written ones go in the same batch (an audit
 * entry). Answers the events as written.
 */
export async function reviseEvents(
  db: Db,
  ids: readonly string[],
  change: (e: StoredEvent) => StoredEvent | null,
  tries = 3,
): Promise<StoredEvent[]> {
  const written: StoredEvent[] = [];
  let todo = [...ids];
  for (let attempt = 0; attempt < tries && todo.length > 0; attempt++) {
    const changed = (await selectEvents(db, todo)).map(change).filter((e): e is StoredEvent => e !== null);
    if (changed.length === 0) break;
    const results = await db.$client.batch<{ id: string }>(
      await Promise.all(changed.map((e) => writeStatement(db, e))),
    );
    const done = new Set(results.flatMap((r) => r.results.map((row) => row.id)));
    for (const e of changed) if (done.has(e.id)) written.push({ ...e, rev: e.rev + 1 });
    todo = changed.filter((e) => !done.has(e.id)).map((e) => e.id);
  }
  return written;
}

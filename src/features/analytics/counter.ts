import type { Db } from "../../db/client";
import { IsolateMap } from "../../lib/isolate-memory";
import { describe, type Log } from "../../lib/log";

/**
 * Verification outcomes, counted in this isolate's memory and added to D1 in `waitUntil` — at most
 * one batch every `FLUSH_MS` per isolate, never an operation on the request path. What a killed
 * isolate can lose is what it counted since its last flush: at most `FLUSH_MS` of its requests.
 */
const FLUSH_MS = 5_000;
/** Distinct (account, hour, key, outcome) counts kept before a flush is brought forward. */
const MAX_PENDING = 5_000;
const HOUR_MS = 3_600_000;
/** Rows per INSERT: 5 bound parameters each, D1 binds at most 100 per statement. */
const ROWS_PER_STATEMENT = 20;

/** At MAX_PENDING the flush is brought forward (see countVerification): counts are never dropped for room. */
const pending = new IsolateMap<string, number>("verification counts not yet flushed", MAX_PENDING, () => {});
let scheduled: Promise<void> | null = null;

/** For tests: the flush already scheduled, if any, so a measurement starts with none pending. */
export const settleVerificationCounts = () => scheduled ?? Promise.resolve();

export interface Outcome {
  accountId: string;
  keyId: string;
  outcome: string;
}

export function countVerification(db: Db, waitUntil: (p: Promise<unknown>) => void, log: Log, o: Outcome, now: number) {
  const hour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const name = `${o.accountId}\t${hour}\t${o.keyId}\t${o.outcome}`;
  pending.set(name, (pending.get(name) ?? 0) + 1);
  if (scheduled) return;
  scheduled = flushAfter(db, log, pending.size >= MAX_PENDING ? 0 : FLUSH_MS);
  waitUntil(scheduled);
}

async function flushAfter(db: Db, log: Log, delay: number) {
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  scheduled = null;
  const rows = [...pending];
  pending.clear();
  if (rows.length === 0) return;
  const statements = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
    const values = chunk.map(() => "(?, ?, ?, ?, ?)").join(", ");
    const params = chunk.flatMap(([name, count]) => {
      const [accountId, hour, keyId, outcome] = name.split("\t");
      return [accountId, Number(hour), keyId, outcome, count];
    });
    statements.push(
      db.$client
        .prepare(
          // Only for accounts that still exist: counts flushed after an account's deletion are dropped.
          `INSERT INTO verification_counts (account_id, hour, key_id, outcome, count)
           SELECT column1, column2, column3, column4, column5 FROM (VALUES ${values}) AS v
           WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.id = v.column1 AND a.deleted_at IS NULL)
           ON CONFLICT (account_id, hour, key_id, outcome) DO UPDATE SET count = count + excluded.count`,
        )
        .bind(...params),
    );
  }
  try {
    await db.$client.batch(statements);
  } catch (err) {
    // Counts are not worth a failed request, nor unbounded memory: keep them while there is room.
    for (const [name, count] of rows) {
      if (pending.size >= MAX_PENDING) break;
      pending.set(name, (pending.get(name) ?? 0) + count);
    }
    log("warn", "verification counts not written; kept for the next flush", { error: describe(err) });
  }
}

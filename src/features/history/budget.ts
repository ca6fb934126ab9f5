import { type Db, jsonColumn, readCronState, writeCronState } from "../../db/client";
import type { Log } from "../../lib/log";
import type { MoveLimit } from "./archiver";
import { countEvents, pagesFor, payloadFor } from "./storage.repo";

/**
 * The history's byte budget (`HISTORY_MAX_MB`): D1 is one database of at most 10 GB, and a full one
 * refuses every write — publishes, key changes, tokens — so the history, the one part of it that
 * grows with traffic, is kept under a size. Each cron run (after the move of what is past the hot
 * window):
 *
 * 1. the history's size is brought up to date: the events made since the last run are counted
 *    (a range of the key's index), the rows the archiver deleted subtracted; the whole table is
 *    counted again hourly (or every run while it is small), which corrects what the increments
 *    miss (a row that grew after it was counted, one deleted with its account);
 * 2. the last minute's publishing is counted: the history must still fit when the next minute's
 *    has come, so it is kept at most the budget less one minute. A budget that cannot hold one
 *    minute is a configuration error, logged as such and shown on the operator's storage route;
 * 3. when the history is over that, the oldest final events move to R2 now, whatever
 *    `HISTORY_HOT_HOURS` says, and the move is logged. An event with a delivery pending, or an
 *    idempotency key still answering (24 h), cannot move: a history of those alone is over its
 *    budget until they end (logged too). Publishing is never refused for it.
 */

const STATE = "history-storage";
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
/** Below this many rows the whole table is counted every run (a count of it reads every row). */
const RECOUNT_BELOW_ROWS = 20_000;

/** The history's size as last measured, kept between runs (`cron_state`). */
export interface StorageState {
  measuredAt: number;
  recountedAt: number;
  /** The events made before this time (ms) are in `rows` and `payload`; those after, in `minute`. */
  countedTo: number;
  rows: number;
  /** The rows' bytes (`ROW_BYTES`, summed). */
  payload: number;
  /** The last minute's publishing, in D1 at the run. */
  minute: { rows: number; payload: number };
  /** The whole database, as D1 answered (`meta.size_after`). */
  d1Bytes: number;
  /** The latest move past the hot window because of the budget. */
  early: { at: number; events: number; payload: number } | null;
  /** What is wrong with the budget, if anything (a configuration error, or nothing left to move). */
  problem: string | null;
}

export const readStorageState = async (db: Db) => {
  const text = await readCronState(db, STATE);
  return text === undefined ? null : jsonColumn<StorageState>(text);
};

/** What the history takes in all: the events counted, and the last minute's. */
export const historyPayload = (s: Pick<StorageState, "payload" | "minute">) => s.payload + s.minute.payload;

export interface BudgetDeps {
  db: Db;
  now: () => number;
  log: Log;
  /** `HISTORY_MAX_MB`, in bytes of D1. */
  maxBytes: number;
  /** Moves the oldest final events out (the archiver, with a limit). */
  move: (limit: MoveLimit) => Promise<{ events: number; payload: number }>;
}

/**
 * The history's size, brought up to date from the last run's (`moved`: the rows deleted since).
 * The events of the last minute are counted apart each run (a publish may still be writing its
 * event with an id of a few seconds ago); those before it, once, when they leave that minute.
 */
async function measure(db: Db, now: number, last: StorageState | null, moved: number) {
  const edge = now - MINUTE_MS;
  const whole = last === null || now - last.recountedAt >= HOUR_MS || last.rows < RECOUNT_BELOW_ROWS;
  const minute = await countEvents(db, edge, null);
  if (whole) {
    const t = await countEvents(db, null, edge);
    return { rows: t.rows, payload: t.payload, minute, recountedAt: now, countedTo: edge };
  }
  const t = await countEvents(db, last.countedTo, edge);
  return {
    rows: Math.max(0, last.rows + t.rows),
    payload: Math.max(0, last.payload + t.payload - moved),
    minute,
    recountedAt: last.recountedAt,
    countedTo: Math.max(edge, last.countedTo),
  };
}

const mb = (bytes: number) => Math.round(bytes / 10_000) / 100;

/** One run: measure, and move the oldest final events out while the history is over its budget. */
export async function keepWithinBudget(deps: BudgetDeps, moved: number): Promise<StorageState> {
  const { db, log, maxBytes } = deps;
  const now = deps.now();
  const last = await readStorageState(db);
  const size = await measure(db, now, last, moved);
  const minuteBytes = pagesFor(size.minute.payload);
  let problem: string | null = null;
  if (minuteBytes >= maxBytes) {
    problem = `HISTORY_MAX_MB (${mb(maxBytes)} MB) cannot hold one minute's publishing (${mb(minuteBytes)} MB in the last minute): raise it`;
    log("error", "configuration error", { setting: "HISTORY_MAX_MB", problem });
  }
  // Room for the next minute's publishing before the next run.
  const target = Math.max(0, maxBytes - minuteBytes);
  let early = last?.early ?? null;
  let { rows, payload } = size;
  const minute = { rows: size.minute.rows, payload: size.minute.payload };
  const before = historyPayload(size);
  if (pagesFor(before) > target) {
    const out = await deps.move({ before: now, payload: Math.max(1, Math.ceil(before - payloadFor(target))) });
    // The oldest go first: what was counted, then (a budget of less than a minute) the minute's.
    const counted = { rows: Math.min(rows, out.events), payload: Math.min(payload, out.payload) };
    payload -= counted.payload;
    rows -= counted.rows;
    minute.payload = Math.max(0, minute.payload - (out.payload - counted.payload));
    minute.rows = Math.max(0, minute.rows - (out.events - counted.rows));
    early = { at: now, events: out.events, payload: out.payload };
    log("warn", "history over its budget: oldest final events moved to R2 early", {
      budgetBytes: maxBytes,
      historyBytes: pagesFor(before),
      lastMinuteBytes: minuteBytes,
      moved: out.events,
      movedBytes: pagesFor(out.payload),
    });
    const after = pagesFor(Math.max(0, before - out.payload));
    if (after > maxBytes) {
      problem ??= `the history (${mb(after)} MB) is over HISTORY_MAX_MB (${mb(maxBytes)} MB) with nothing final left to move: its events have deliveries pending or idempotency keys still answering`;
      log("error", "history over its budget with nothing left to move", { problem });
    }
  }
  const state: StorageState = {
    measuredAt: now,
    recountedAt: size.recountedAt,
    countedTo: size.countedTo,
    rows,
    payload,
    minute,
    d1Bytes: size.minute.d1Bytes,
    early,
    problem,
  };
  await writeCronState(db, STATE, JSON.stringify(state));
  return state;
}

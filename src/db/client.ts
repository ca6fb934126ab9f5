import { eq } from "drizzle-orm";
import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import { readStoredJson } from "../lib/json-depth";
import { memo } from "../lib/memo";
import * as schema from "./schema";
import { cronState } from "./schema";

/** The Drizzle handle; `$client` is the D1 binding itself, for the pipeline's hand-written statements. */
export type Db = DrizzleD1Database<typeof schema> & { $client: D1Database };

/**
 * One Drizzle handle per `DB` binding, made once per isolate: building it walks the whole schema
 * (~0.5 ms, the largest single cost on the hot path in `npm run bench:profile` before it was cached).
 * The handle holds no per-request state: D1 has no open transactions, every batch is one call.
 */
const handles = new WeakMap<D1Database, Db>();

export const createDb = (d1: D1Database): Db => memo(handles, d1, () => drizzle(d1, { schema }));

/** A cron task's saved position (see `cronState`); undefined before its first run. */
export async function readCronState(db: Db, name: string) {
  const row = await db.select({ value: cronState.value }).from(cronState).where(eq(cronState.name, name)).get();
  return row?.value;
}

export async function writeCronState(db: Db, name: string, value: string) {
  await db.insert(cronState).values({ name, value }).onConflictDoUpdate({ target: cronState.name, set: { value } });
}

/**
 * A JSON column read by hand-written SQL (Drizzle decodes the ones it reads itself, the same way):
 * the one place such text is parsed, so the features hold no `JSON.parse`.
 */
export function jsonColumn<T>(value: unknown): T | null {
  return value === null || value === undefined ? null : (readStoredJson(String(value)) as T);
}

/** A Drizzle query as a D1 statement, to share a `D1Database.batch` with hand-written ones. */
export function asStatement(db: Db, query: { toSQL(): { sql: string; params: unknown[] } }): D1PreparedStatement {
  const { sql, params } = query.toSQL();
  return db.$client.prepare(sql).bind(...params);
}

import { env } from "cloudflare:workers";

export interface OpCounts {
  d1Queries: number;
  d1Batches: number;
  kvReads: number;
  kvLists: number;
  kvWrites: number;
}

/**
 * The real bindings, wrapped to count what a request costs: every D1 statement run, every
 * batch, and every KV get / list / put.
 */
export function countingEnv() {
  const counts: OpCounts = { d1Queries: 0, d1Batches: 0, kvReads: 0, kvLists: 0, kvWrites: 0 };
  const db = env.DB;
  const kv = env.RATE_LIMITS;
  // Counted when run, not when prepared: Keyhook prepares its hot-path statement once per isolate.
  const unwrapped = new WeakMap<object, D1PreparedStatement>();
  const wrap = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const counted = {
      bind: (...values: unknown[]) => wrap(stmt.bind(...values)),
      first: (column?: string) => {
        counts.d1Queries += 1;
        return column === undefined ? stmt.first() : stmt.first(column);
      },
      all: () => {
        counts.d1Queries += 1;
        return stmt.all();
      },
      raw: (options?: { columnNames?: boolean }) => {
        counts.d1Queries += 1;
        return stmt.raw(options as { columnNames: true });
      },
      run: () => {
        counts.d1Queries += 1;
        return stmt.run();
      },
    } as unknown as D1PreparedStatement;
    unwrapped.set(counted, stmt);
    return counted;
  };
  const DB = {
    prepare: (query: string) => wrap(db.prepare(query)),
    batch: (statements: D1PreparedStatement[]) => {
      counts.d1Batches += 1;
      return db.batch(statements.map((s) => unwrapped.get(s) ?? s));
    },
    exec: (query: string) => db.exec(query),
    withSession: (c?: string) => db.withSession(c),
    dump: () => db.dump(),
  } as unknown as D1Database;
  const RATE_LIMITS = {
    get: (key: string) => {
      counts.kvReads += 1;
      return kv.get(key);
    },
    getWithMetadata: (key: string) => {
      counts.kvReads += 1;
      return kv.getWithMetadata(key);
    },
    list: (...args: Parameters<KVNamespace["list"]>) => {
      counts.kvLists += 1;
      return kv.list(...args);
    },
    put: (...args: Parameters<KVNamespace["put"]>) => {
      counts.kvWrites += 1;
      return kv.put(...args);
    },
    delete: (key: string) => kv.delete(key),
  } as unknown as KVNamespace;
  const reset = () => Object.assign(counts, { d1Queries: 0, d1Batches: 0, kvReads: 0, kvLists: 0, kvWrites: 0 });
  return { env: { ...env, DB, RATE_LIMITS }, counts, reset };
}

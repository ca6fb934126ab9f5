import { env } from "cloudflare:workers";

export interface OpCounts {
  d1Queries: number;
  d1Batches: number;
  kvReads: number;
  kvLists: number;
  kvWrites: number;
}

/**
 * The real bindings, wrapped to count what a request costs: every D1 statement prepared
 * (one per query), every batch, and every KV get / list / put.
 */
export function countingEnv() {
  const counts: OpCounts = { d1Queries: 0, d1Batches: 0, kvReads: 0, kvLists: 0, kvWrites: 0 };
  const db = env.DB;
  const kv = env.RATE_LIMITS;
  const DB = {
    prepare: (query: string) => {
      counts.d1Queries += 1;
      return db.prepare(query);
    },
    batch: (statements: D1PreparedStatement[]) => {
      counts.d1Batches += 1;
      return db.batch(statements);
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

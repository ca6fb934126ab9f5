import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import { memo } from "../lib/memo";
import * as schema from "./schema";

/** The Drizzle handle; `$client` is the D1 binding itself, for the pipeline's hand-written statements. */
export type Db = DrizzleD1Database<typeof schema> & { $client: D1Database };

/**
 * One Drizzle handle per `DB` binding, made once per isolate: building it walks the whole schema
 * (~0.5 ms, the largest single cost on the hot path in `npm run bench:profile` before it was cached).
 * The handle holds no per-request state: D1 has no open transactions, every batch is one call.
 */
const handles = new WeakMap<D1Database, Db>();

export const createDb = (d1: D1Database): Db => memo(handles, d1, () => drizzle(d1, { schema }));

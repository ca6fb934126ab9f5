/**
 * Operation counting, on only when `COUNT_OPS=true` (`npm run bench` starts a Keyhook that way):
 * the bindings are wrapped to count what one invocation (a request, a queue batch, a cron run)
 * costs in the units Cloudflare bills — D1 rows read and written, KV reads / lists / writes, Queue
 * messages — and one JSON line per invocation is logged once its `waitUntil` work has settled,
 * with `answered`: the part spent before the invocation answered.
 *
 * D1 rows come from each result's `meta`. `raw()` results carry none, so a counted `raw()` SELECT
 * is replayed once with `all()` for its meta (reads are safe to repeat), and a `raw()` write (an
 * `UPDATE … RETURNING` on one table, so no duplicate column names) runs as `run()` instead.
 */
export interface OpCounts {
  /** Statements run, those in batches included. */
  d1Queries: number;
  d1Batches: number;
  /** Calls that went to D1: a batch is one, however many statements it holds. */
  d1RoundTrips: number;
  d1RowsRead: number;
  d1RowsWritten: number;
  kvReads: number;
  kvLists: number;
  kvWrites: number;
  queueSends: number;
}

type Meta = { rows_read?: number; rows_written?: number };

function countD1(db: D1Database, counts: OpCounts): D1Database {
  const addMeta = (meta: Meta | undefined) => {
    counts.d1RowsRead += meta?.rows_read ?? 0;
    counts.d1RowsWritten += meta?.rows_written ?? 0;
  };
  const inner = new WeakMap<object, D1PreparedStatement>();
  const wrap = (stmt: D1PreparedStatement, query: string): D1PreparedStatement => {
    const counted = async <T extends { meta?: Meta }>(run: () => Promise<T>) => {
      counts.d1Queries += 1;
      counts.d1RoundTrips += 1;
      const result = await run();
      addMeta(result.meta);
      return result;
    };
    const wrapped = {
      bind: (...values: unknown[]) => wrap(stmt.bind(...values), query),
      first: async (column?: string) => {
        const { results } = await counted(() => stmt.all());
        const row = results[0] as Record<string, unknown> | undefined;
        return column === undefined ? (row ?? null) : (row?.[column] ?? null);
      },
      all: () => counted(() => stmt.all()),
      run: () => counted(() => stmt.run()),
      raw: async () => {
        if (/^\s*select/i.test(query)) {
          await counted(() => stmt.all());
          return stmt.raw();
        }
        const { results } = await counted(() => stmt.run());
        return (results as Record<string, unknown>[]).map((row) => Object.values(row));
      },
    } as unknown as D1PreparedStatement;
    inner.set(wrapped, stmt);
    return wrapped;
  };
  return {
    prepare: (query: string) => wrap(db.prepare(query), query),
    batch: async (statements: D1PreparedStatement[]) => {
      counts.d1Batches += 1;
      counts.d1RoundTrips += 1;
      counts.d1Queries += statements.length;
      const results = await db.batch(statements.map((s) => inner.get(s) ?? s));
      for (const r of results) addMeta(r.meta);
      return results;
    },
    exec: (query: string) => db.exec(query),
    withSession: (constraint?: string) => db.withSession(constraint as D1SessionConstraint),
    dump: () => db.dump(),
  } as unknown as D1Database;
}

/** Adds one to `counts[field]`, then does the call. */
const tally =
  <A extends unknown[], R>(counts: OpCounts, field: keyof OpCounts, call: (...args: A) => R) =>
  (...args: A): R => {
    counts[field] += 1;
    return call(...args);
  };

function countKv(kv: KVNamespace, counts: OpCounts): KVNamespace {
  return {
    get: tally(counts, "kvReads", (...args: Parameters<KVNamespace["get"]>) => kv.get(...args)),
    getWithMetadata: tally(counts, "kvReads", (...args: Parameters<KVNamespace["getWithMetadata"]>) =>
      kv.getWithMetadata(...args),
    ),
    list: tally(counts, "kvLists", (...args: Parameters<KVNamespace["list"]>) => kv.list(...args)),
    put: tally(counts, "kvWrites", (...args: Parameters<KVNamespace["put"]>) => kv.put(...args)),
    delete: tally(counts, "kvWrites", (key: string) => kv.delete(key)),
  } as unknown as KVNamespace;
}

function countQueue(queue: Queue, counts: OpCounts): Queue {
  return {
    send: tally(counts, "queueSends", (...args: Parameters<Queue["send"]>) => queue.send(...args)),
    sendBatch: (messages: Parameters<Queue["sendBatch"]>[0], options?: QueueSendBatchOptions) => {
      counts.queueSends += [...messages].length;
      return queue.sendBatch(messages, options);
    },
  } as unknown as Queue;
}

export const newCounts = (): OpCounts => ({
  d1Queries: 0,
  d1Batches: 0,
  d1RoundTrips: 0,
  d1RowsRead: 0,
  d1RowsWritten: 0,
  kvReads: 0,
  kvLists: 0,
  kvWrites: 0,
  queueSends: 0,
});

/** `env` with its D1, KV and Queue bindings wrapped to add what they do to `counts`. */
export function countBindings(env: Env, counts: OpCounts): Env {
  return {
    ...env,
    DB: countD1(env.DB, counts),
    RATE_LIMITS: countKv(env.RATE_LIMITS, counts),
    DELIVERIES: countQueue(env.DELIVERIES, counts),
    DELIVERIES_DLQ: countQueue(env.DELIVERIES_DLQ, counts),
  };
}

/**
 * `env` with counting bindings and a `ctx` whose `waitUntil` work is tracked, plus `done()`, which
 * logs the counts once everything the invocation started has settled. Off: the same env and ctx.
 */
export function countOps(env: Env, ctx: ExecutionContext, label: Record<string, unknown>) {
  if (env.COUNT_OPS !== "true") return { env, ctx, done: () => {} };
  const counts = newCounts();
  const pending: Promise<unknown>[] = [];
  const counted = countBindings(env, counts);
  const tracked = Object.assign(Object.create(ctx) as ExecutionContext, {
    waitUntil: (p: Promise<unknown>) => {
      pending.push(p);
      ctx.waitUntil(p);
    },
    passThroughOnException: () => ctx.passThroughOnException(),
    exports: ctx.exports,
  });
  const done = () => {
    // What the invocation had cost when it answered, apart from its `waitUntil` work after that.
    const answered = { ...counts };
    const settle = async () => {
      for (let seen = -1; seen !== pending.length; ) {
        seen = pending.length;
        await Promise.allSettled(pending);
      }
      console.log(JSON.stringify({ msg: "ops", ...label, ...counts, answered }));
    };
    ctx.waitUntil(settle());
  };
  return { env: counted, ctx: tracked, done };
}

/**
 * What Keyhook does when a platform dependency fails. D1 failing or not answering in time becomes a
 * `DependencyUnavailable`, which every entry point answers as 503 `service_unavailable` with
 * `Retry-After` (never a 500, and never a request admitted without its key record). A D1 error that
 * is about the statement — a constraint, a schema mismatch — is a bug or a race, not an outage, and
 * stays what it is.
 */
export class DependencyUnavailable extends Error {
  constructor(
    readonly dependency: "D1" | "KV" | "Queue" | "JWKS" | "R2",
    options: { cause: unknown },
  ) {
    super(`${dependency} is unavailable`, options);
    this.name = "DependencyUnavailable";
  }
}

/** Seconds a client is told to wait before it tries again. */
export const RETRY_AFTER_SECONDS = 5;

/** The `DependencyUnavailable` in an error or its causes (Drizzle wraps the driver's errors). */
export function unavailableOf(err: unknown): DependencyUnavailable | null {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof DependencyUnavailable) return e;
  }
  return null;
}

const STATEMENT_ERROR =
  /SQLITE_CONSTRAINT|SQLITE_ERROR|SQLITE_MISMATCH|SQLITE_RANGE|constraint failed|syntax error|no such (table|column)/i;

function classify(err: unknown): unknown {
  if (err instanceof DependencyUnavailable) return err;
  const text =
    err instanceof Error ? `${err.message} ${err.cause instanceof Error ? err.cause.message : ""}` : String(err);
  return STATEMENT_ERROR.test(text) ? err : new DependencyUnavailable("D1", { cause: err });
}

function timed<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DependencyUnavailable("D1", { cause: new Error(`no answer in ${ms} ms`) })),
      ms,
    );
  });
  return Promise.race([work, timeout]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

const guarded = new WeakMap<D1Database, Map<number, D1Database>>();

/**
 * The D1 binding with every call bounded by `timeoutMs` and its failures classified (see above).
 * Made once per binding and timeout, so the Drizzle handle and prepared statements built on it
 * are made once per isolate too.
 */
export function guardD1(db: D1Database, timeoutMs: number): D1Database {
  let byTimeout = guarded.get(db);
  if (!byTimeout) {
    byTimeout = new Map();
    guarded.set(db, byTimeout);
  }
  const known = byTimeout.get(timeoutMs);
  if (known) return known;
  const call = <T>(work: () => Promise<T>) => {
    let started: Promise<T>;
    try {
      started = work();
    } catch (err) {
      return Promise.reject(classify(err));
    }
    return timed(started, timeoutMs).catch((err) => Promise.reject(classify(err)));
  };
  const inner = new WeakMap<object, D1PreparedStatement>();
  const wrap = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const wrapped = {
      bind: (...values: unknown[]) => wrap(stmt.bind(...values)),
      first: (column?: string) => call(() => (column === undefined ? stmt.first() : stmt.first(column))),
      all: () => call(() => stmt.all()),
      run: () => call(() => stmt.run()),
      raw: (options?: { columnNames?: boolean }) => call(() => stmt.raw(options as { columnNames: true })),
    } as unknown as D1PreparedStatement;
    inner.set(wrapped, stmt);
    return wrapped;
  };
  const guardedDb = {
    prepare: (query: string) => wrap(db.prepare(query)),
    batch: (statements: D1PreparedStatement[]) => call(() => db.batch(statements.map((s) => inner.get(s) ?? s))),
    exec: (query: string) => call(() => db.exec(query)),
    withSession: (constraint?: string) => db.withSession(constraint as D1SessionConstraint),
    dump: () => db.dump(),
  } as unknown as D1Database;
  byTimeout.set(timeoutMs, guardedDb);
  return guardedDb;
}

/**
 * `npm run bench:geo`: a D1Database whose every call goes to the primary service (primary/index.ts)
 * after an injected delay — one round trip to a far primary. Only the bench uses it: the Worker's
 * own code never knows.
 */
interface Call {
  sql: string;
  params: unknown[];
  op: "all" | "first" | "run" | "raw";
  column?: string;
  columnNames?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RemoteD1 {
  constructor(
    private readonly url: string,
    private readonly delay: () => number,
  ) {}

  async call<T>(path: string, body: unknown): Promise<T> {
    const ms = this.delay();
    if (ms > 0) await sleep(ms);
    const res = await fetch(`${this.url}${path}`, { method: "POST", body: JSON.stringify(body) });
    const answer = (await res.json()) as { ok?: T; error?: string };
    if (answer.error !== undefined) throw new Error(answer.error);
    return answer.ok as T;
  }

  prepare(sql: string) {
    return new RemoteStatement(this, sql, []);
  }

  batch(statements: RemoteStatement[]) {
    return this.call<unknown[]>(
      "/d1/batch",
      statements.map((s) => ({ sql: s.sql, params: s.params, op: "all" })),
    );
  }

  exec(): never {
    throw new Error("exec is not proxied");
  }

  withSession() {
    return this;
  }
}

export class RemoteStatement {
  constructor(
    private readonly db: RemoteD1,
    readonly sql: string,
    readonly params: unknown[],
  ) {}

  bind(...params: unknown[]) {
    return new RemoteStatement(
      this.db,
      this.sql,
      params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p)),
    );
  }

  private run_(op: Call["op"], extra: Partial<Call> = {}) {
    return this.db.call<unknown>("/d1", { sql: this.sql, params: this.params, op, ...extra });
  }

  first(column?: string) {
    return this.run_("first", column ? { column } : {});
  }
  all() {
    return this.run_("all");
  }
  run() {
    return this.run_("run");
  }
  raw(options?: { columnNames?: boolean }) {
    return this.run_("raw", options?.columnNames ? { columnNames: true } : {});
  }
}

import { DurableObject } from "cloudflare:workers";

/**
 * One per paced webhook (a throttle, a replay): hands out send slots at least `intervalMs` apart,
 * in the order they are asked for, across every isolate and colo — a Durable Object runs one call
 * at a time. The next free slot is stored, so a restarted object goes on where it was.
 */
export class EndpointPacer extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS pace (id INTEGER PRIMARY KEY CHECK (id = 1), next INTEGER NOT NULL)");
  }

  /** `count` slots from `now` on (the caller's clock), each `intervalMs` after the one before. */
  /** `keyhook doctor`: the object answers (nothing read or written). */
  ping() {
    return "answered";
  }

  take(now: number, intervalMs: number, count: number): number[] {
    const row = this.sql.exec<{ next: number }>("SELECT next FROM pace WHERE id = 1").toArray()[0];
    let next = Math.max(now, row?.next ?? 0);
    const slots: number[] = [];
    for (let i = 0; i < count; i++) {
      slots.push(next);
      next += intervalMs;
    }
    this.sql.exec(
      "INSERT INTO pace (id, next) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET next = excluded.next",
      next,
    );
    return slots;
  }
}

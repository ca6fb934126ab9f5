import { DurableObject } from "cloudflare:workers";

/** What a named limit answers: whether this use fits, what is left, and when the window ends (unix ms). */
export interface LimitAnswer {
  success: boolean;
  limit: number;
  remaining: number;
  reset: number;
  /** The override that set `limit` and the window instead of the caller (`ratelimit.setOverride`). */
  overrideId?: string;
}

/**
 * One per limited identifier (Unkey's `ratelimit.limit` namespace and identifier): `limit` uses per
 * window of `duration` ms (1 s to 30 days), windows aligned on the epoch. Exact under concurrency:
 * a Durable Object runs one call at a time, and the count is stored, so a restarted object goes on
 * where it was. Keyhook's hourly KV counter stays for the plan limits; this is for limits that must
 * hold to the request (`features/unkey`).
 */
export class NamedLimiter extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS used (id INTEGER PRIMARY KEY CHECK (id = 1), start INTEGER NOT NULL, duration INTEGER NOT NULL, n INTEGER NOT NULL)",
    );
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS override (id INTEGER PRIMARY KEY CHECK (id = 1), override_id TEXT NOT NULL, lim INTEGER NOT NULL, duration INTEGER NOT NULL)",
    );
  }

  /** From now on, `limit` per `duration` ms whatever a caller asks (D1 keeps the record that lists it). */
  setOverride(overrideId: string, limit: number, duration: number) {
    this.sql.exec(
      "INSERT INTO override (id, override_id, lim, duration) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET override_id = excluded.override_id, lim = excluded.lim, duration = excluded.duration",
      overrideId,
      limit,
      duration,
    );
  }

  /** Back to what each caller asks. */
  clearOverride() {
    this.sql.exec("DELETE FROM override");
  }

  /** `keyhook doctor`: the object answers (nothing read or written). */
  ping() {
    return "answered";
  }

  /** Takes `cost` uses now (the caller's clock) if they fit in this window's limit (the override's, if set). */
  limit(now: number, asked: number, askedDuration: number, cost: number): LimitAnswer {
    const override = this.sql
      .exec<{ override_id: string; lim: number; duration: number }>("SELECT * FROM override")
      .toArray()[0];
    const limit = override?.lim ?? asked;
    const duration = override?.duration ?? askedDuration;
    const start = now - (now % duration);
    const row = this.sql
      .exec<{ start: number; duration: number; n: number }>("SELECT * FROM used WHERE id = 1")
      .toArray()[0];
    const used = row && row.start === start && row.duration === duration ? row.n : 0;
    const success = used + cost <= limit;
    const after = success ? used + cost : used;
    if (success && cost > 0) {
      this.sql.exec(
        "INSERT INTO used (id, start, duration, n) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET start = excluded.start, duration = excluded.duration, n = excluded.n",
        start,
        duration,
        after,
      );
    }
    const answer: LimitAnswer = { success, limit, remaining: Math.max(0, limit - after), reset: start + duration };
    return override ? { ...answer, overrideId: override.override_id } : answer;
  }
}

import { readSettings, type Settings } from "./config";
import { createDb, type Db } from "./db/client";
import { guardD1 } from "./lib/dependencies";
import { type Log, logger } from "./lib/log";

/** What every service is built on: the bindings and settings of this Worker, and one clock. */
export interface Platform {
  /** This invocation's id (a request's `X-Request-Id`), on every log line it writes. */
  requestId: string | null;
  log: Log;
  db: Db;
  settings: Settings;
  /**
   * Unix milliseconds now: business time (expiry, windows, leases, retention, ids) is read here, so
   * a test can step it. Timers that pace I/O (the group commit's linger, the KV counters' one write a
   * second, a receiver's stopwatch) run on the wall clock: they measure, they do not decide.
   */
  now: () => number;
  /** A number in [0, 1): the retry schedule's jitter. */
  random: () => number;
  /** Work that may finish after the answer (`ctx.waitUntil` of this invocation). */
  waitUntil: (p: Promise<unknown>) => void;
  /** The deliveries queue, and its dead letters. */
  queue: Queue;
  deadLetters: Queue;
  /** Per-hour rate counters and failed-authentication counters. */
  kv: KVNamespace;
  /** For webhook deliveries. */
  fetch: typeof fetch;
  secrets: { webhookKey: string; jwtSecret: string | undefined; adminToken: string | undefined };
  /** The webhook history past the hot window (features/history). */
  history: R2Bucket;
  /** The local stand-in for Workers Cache (`EDGE_CACHE=local`). */
  edgeColo: Env["EDGE_COLO"];
  /** Send slots per webhook: throttles and replays (`features/deliveries/pacer.ts`). */
  pacer: Env["PACER"] | null;
  /** Named rate limits of any window, exact (`features/ratelimit/named-limiter.ts`). */
  limiter: Env["LIMITER"] | null;
  /** This invocation's loopback bindings to the Worker's own entrypoints (`ctx.exports`), if any. */
  exports: Cloudflare.Exports | null;
}

export interface Invocation extends Pick<ExecutionContext, "waitUntil"> {
  requestId?: string | null;
  exports?: Cloudflare.Exports;
}

/** What a test may steer: the clock, outbound `fetch` (webhook receivers, JWKS), randomness. */
export type Overrides = Partial<Pick<Platform, "now" | "fetch" | "random">>;

export function platformOf(env: Env, ctx: Invocation, overrides: Overrides = {}): Platform {
  const settings = readSettings(env);
  const requestId = ctx.requestId ?? null;
  return {
    requestId,
    log: logger(requestId),
    // Every D1 call is bounded in time, and an outage is told from a bad statement (503, not 500).
    db: createDb(guardD1(env.DB, settings.d1TimeoutMs)),
    settings,
    now: overrides.now ?? Date.now,
    random: overrides.random ?? Math.random,
    waitUntil: (p) => ctx.waitUntil(p),
    queue: env.DELIVERIES,
    deadLetters: env.DELIVERIES_DLQ,
    kv: env.RATE_LIMITS,
    fetch: overrides.fetch ?? ((input, init) => fetch(input, init)),
    // Checked by readSettings (a missing WEBHOOK_SECRET_KEY is a configuration error).
    secrets: { webhookKey: env.WEBHOOK_SECRET_KEY, jwtSecret: env.JWT_SECRET, adminToken: env.ADMIN_TOKEN },
    history: env.HISTORY,
    edgeColo: env.EDGE_COLO,
    pacer: env.PACER ?? null,
    limiter: env.LIMITER ?? null,
    exports: ctx.exports ?? null,
  };
}

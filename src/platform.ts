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
  /** Unix milliseconds now: every service reads time here. */
  now: () => number;
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
}

export interface Invocation extends Pick<ExecutionContext, "waitUntil"> {
  requestId?: string | null;
}

export function platformOf(env: Env, ctx: Invocation): Platform {
  const settings = readSettings(env);
  const requestId = ctx.requestId ?? null;
  return {
    requestId,
    log: logger(requestId),
    // Every D1 call is bounded in time, and an outage is told from a bad statement (503, not 500).
    db: createDb(guardD1(env.DB, settings.d1TimeoutMs)),
    settings,
    now: Date.now,
    waitUntil: (p) => ctx.waitUntil(p),
    queue: env.DELIVERIES,
    deadLetters: env.DELIVERIES_DLQ,
    kv: env.RATE_LIMITS,
    fetch: (input, init) => fetch(input, init),
    secrets: { webhookKey: env.WEBHOOK_SECRET_KEY, jwtSecret: env.JWT_SECRET, adminToken: env.ADMIN_TOKEN },
  };
}

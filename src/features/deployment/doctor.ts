import { createDb, type Db, readCronState, writeCronState } from "../../db/client";
import { LATEST_MIGRATION } from "../../db/migrations";
import { describe } from "../../lib/log";
import type { EdgeTier } from "../edge/edge-tier";

/**
 * What `keyhook doctor` asks a deployment (`GET /v1/deployment/doctor`): every part an operator
 * needs whole, one check each, named so the line says what to fix. It reads the bindings straight
 * from the Worker's environment, so a missing binding or an invalid setting is a failed check,
 * not a 500. A queue ping is answered by the consumer (`markConsumerSeen`); until it is, that
 * check is `pending` and the CLI asks again.
 */
type CheckStatus = "ok" | "fail" | "pending";
export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
}

/** `cron_state` rows the cron and the queue consumer leave, so the doctor can tell they run. */
export const CRON_SEEN = "cron-seen";
export const CONSUMER_SEEN = "queue-consumer-seen";
/** The cron runs every minute: older than this, it is not running. */
const CRON_STALE_MS = 3 * 60_000;
const CHECK_TIMEOUT_MS = 5_000;

interface Inputs {
  env: Env;
  /** The edge tier, or null when the configuration is invalid (`problems`). */
  tier: EdgeTier | null;
  problems: string[] | null;
  now: number;
}

async function timed(name: string, run: () => Promise<string | Check>): Promise<Check> {
  const started = Date.now();
  try {
    const detail = await Promise.race([
      run(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS / 1000} s`)), CHECK_TIMEOUT_MS),
      ),
    ]);
    if (typeof detail !== "string") return detail;
    return { name, status: "ok", detail: detail.replace("{ms}", `${Date.now() - started} ms`) };
  } catch (err) {
    return { name, status: "fail", detail: describe(err) };
  }
}

/** A call that answered: its check's detail. */
const answered = (call: Promise<unknown>, detail = "answered in {ms}") => call.then(() => detail);

const missing = (name: string, binding: string, where: string): Check => ({
  name,
  status: "fail",
  detail: `no ${binding} binding: wrangler.toml ${where} (npm run deploy creates it)`,
});

const ago = (ms: number) => (ms < 120_000 ? `${Math.round(ms / 1000)} s ago` : `${Math.round(ms / 60_000)} min ago`);

export async function examine({ env, tier, problems, now }: Inputs): Promise<Check[]> {
  const checks: Check[] = [];
  checks.push(
    problems
      ? { name: "configuration", status: "fail", detail: problems.join("; ") }
      : { name: "configuration", status: "ok", detail: "every setting valid" },
  );

  const db = env.DB as D1Database | undefined;
  if (!db) {
    checks.push(missing("D1", "DB", "[[d1_databases]]"));
  } else {
    checks.push(await timed("D1", () => answered(db.prepare("SELECT 1").first())));
    checks.push(await timed("migrations", () => migrations(db)));
  }

  const kv = env.RATE_LIMITS as KVNamespace | undefined;
  checks.push(
    kv ? await timed("KV", () => answered(kv.get("doctor:probe"))) : missing("KV", "RATE_LIMITS", "[[kv_namespaces]]"),
  );
  const r2 = env.HISTORY as R2Bucket | undefined;
  checks.push(
    r2 ? await timed("R2", () => answered(r2.head("doctor/probe"))) : missing("R2", "HISTORY", "[[r2_buckets]]"),
  );

  for (const [name, ns, binding] of [
    ["Durable Object EndpointPacer", env.PACER, "PACER"],
    ["Durable Object ColoCache", env.EDGE_COLO, "EDGE_COLO"],
    ["Durable Object NamedLimiter", env.LIMITER, "LIMITER"],
  ] as const) {
    checks.push(
      ns
        ? await timed(name, async () => {
            const stub = ns.get(ns.idFromName("doctor")) as unknown as { ping(): Promise<string> };
            return `${await stub.ping()} in {ms}`;
          })
        : missing(name, binding, "[[durable_objects.bindings]]"),
    );
  }

  const queue = env.DELIVERIES as Queue | undefined;
  if (!queue) {
    checks.push(missing("queue", "DELIVERIES", "[[queues.producers]]"));
  } else {
    checks.push(await timed("queue", () => answered(queue.send({ ping: now }), "a ping sent in {ms}")));
    if (db) checks.push(await timed("queue consumer", () => consumerSeen(db, now)));
  }
  if (db) checks.push(await timed("cron", () => cronSeen(db, now)));

  checks.push(
    tier
      ? await timed("edge purges", () => purge(tier))
      : { name: "edge purges", status: "fail", detail: "not checked: the configuration is invalid" },
  );
  return checks;
}

async function migrations(db: D1Database): Promise<string | Check> {
  let applied: string[];
  try {
    applied = (await db.prepare("SELECT name FROM d1_migrations ORDER BY id").all<{ name: string }>()).results.map(
      (r) => r.name,
    );
  } catch {
    applied = [];
  }
  if (applied.includes(LATEST_MIGRATION)) return `${applied.length} applied, the latest ${LATEST_MIGRATION}`;
  const last = applied.at(-1);
  return {
    name: "migrations",
    status: "fail",
    detail: `${last ? `applied up to ${last}` : "none applied"}; this Worker needs ${LATEST_MIGRATION}: npx wrangler d1 migrations apply DB --remote`,
  };
}

const seenAt = async (db: D1Database, name: string) => {
  const value = await readCronState(createDb(db), name);
  return value === undefined ? null : Number(value);
};

/** The cron ran, or the consumer answered a ping: when, for the doctor. */
export const markSeen = (db: Db, name: typeof CRON_SEEN | typeof CONSUMER_SEEN, at: number) =>
  writeCronState(db, name, String(at));

/** A ping answered within this long counts as the consumer running (the CLI asks again meanwhile). */
const CONSUMER_FRESH_MS = 60_000;

async function consumerSeen(db: D1Database, now: number): Promise<string | Check> {
  const at = await seenAt(db, CONSUMER_SEEN);
  if (at !== null && now - at <= CONSUMER_FRESH_MS) return `answered a ping ${ago(Math.max(0, now - at))}`;
  return {
    name: "queue consumer",
    status: "pending",
    detail:
      at === null
        ? "has not answered a ping yet"
        : `last answered a ping ${ago(now - at)}; waiting for the one just sent`,
  };
}

async function cronSeen(db: D1Database, now: number): Promise<string | Check> {
  const at = await seenAt(db, CRON_SEEN);
  if (at !== null && now - at <= CRON_STALE_MS) return `ran ${ago(now - at)}`;
  return {
    name: "cron",
    status: "fail",
    detail: `${at === null ? "has never run" : `last ran ${ago(now - at)}`}: wrangler.toml [triggers] crons = ["* * * * *"] (the Workers dashboard shows its runs under Triggers)`,
  };
}

async function purge(tier: EdgeTier): Promise<string> {
  if (tier.mode === "off") return "EDGE_CACHE=off: nothing to purge (every check reads D1)";
  await tier.purge(["doctor-probe"]);
  return `a purge confirmed in {ms} (${tier.mode})`;
}

#!/usr/bin/env node
// `npm run bench`: Keyhook under `wrangler dev` (local D1, KV, Queues) on this machine, measured
// side by side with a floor Worker and with the opt-in key cache; then the webhook pipeline; then
// the operations each request and delivery costs (counted by a Keyhook started with COUNT_OPS);
// then scaling with 100× and 1,000× the keys and webhooks. Writes bench/results/<date>.json and
// bench/results/<date>.svg and prints the tables. BENCH_ONLY=auth,pipeline,ops,scaling runs a subset.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import autocannon from "autocannon";
import { adminHeaders, benchAccount, FLOOR, freshState, KEYHOOK, pipeline, sleep, STATE, startFloor, startKeyhook, stateCopy, stop, stopAll } from "./lib.mjs";

const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const ONLY = new Set((process.env.BENCH_ONLY ?? "auth,pipeline,ops,scaling").split(","));
const CACHED = "http://localhost:8797";
const COUNTING = "http://localhost:8798";

async function load(name, opts) {
  const r = await autocannon({ duration: DURATION, ...opts });
  const out = {
    scenario: name,
    connections: opts.connections,
    requestsPerSecond: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    p999: r.latency.p99_9 ?? r.latency.p999,
    non2xx: r.non2xx,
    errors: r.errors,
    // Answers other than 2xx are counted by status, so a failure can be told from a rate limit.
    statuses: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).filter(([code]) => !code.startsWith("2")).map(([code, s]) => [code, s.count])),
  };
  console.log(JSON.stringify(out));
  return out;
}

/** At 1 connection a p99 needs more samples to mean anything: those runs are longer. */
const ONE_CONNECTION_SECONDS = Number(process.env.BENCH_ONE_CONNECTION_SECONDS ?? 20);

async function authScenarios(key, label, { cached = false, single = true } = {}) {
  const rows = [];
  for (const connections of single ? [32, 1] : [32]) {
    const common = { connections, pipelining: 1, duration: connections === 1 ? ONE_CONNECTION_SECONDS : DURATION };
    const whoami = { headers: { "x-api-key": key } };
    const targets = [
      ["health", { url: `${KEYHOOK}/health` }],
      ["floor", { url: `${FLOOR}/`, ...whoami }],
      ["whoami", { url: `${KEYHOOK}/v1/whoami`, ...whoami }],
      ["verify", { url: `${KEYHOOK}/v1/keys/verify`, method: "POST", headers: adminHeaders(), body: JSON.stringify({ key }) }],
      // The key-cache instance is another process: its own /health is what it is compared with.
      ...(cached ? [["health, key-cache instance", { url: `${CACHED}/health` }], ["whoami, key cache on", { url: `${CACHED}/v1/whoami`, ...whoami }]] : []),
    ];
    for (const [name, target] of targets) {
      await autocannon({ ...target, duration: 2, connections }); // warm-up, excluded
      rows.push(await load(`${label}${name}`, { ...common, ...target }));
    }
  }
  return rows;
}

/** Runs SQL on the local D1 (the one every `wrangler dev` here shares). */
function d1(sql) {
  writeFileSync("/tmp/keyhook-bench.sql", sql);
  const r = spawnSync("node_modules/.bin/wrangler", ["d1", "execute", "DB", "--local", "--persist-to", STATE, "--file", "/tmp/keyhook-bench.sql"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
}

/** `n` more keys, and `n` more webhooks each with one event, delivery and attempt, in another account. */
function seed(n, round) {
  const acc = `acc_seed${round}`; // round: unique per run (the local state persists between runs)
  const rows = (table, cols, select) =>
    `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${n}) INSERT INTO ${table} (${cols}) SELECT ${select} FROM c;`;
  d1(`INSERT INTO accounts (id, name, plan, created_at, updated_at) VALUES ('${acc}', 'seed', 'enterprise', 0, 0);
${rows("api_keys", "id, account_id, name, hash, prefix, last4, enabled, metadata, created_by, created_at, updated_at",
    `'key_s${round}_' || i, '${acc}', 'seed', lower(hex(randomblob(32))), 'kh_live_seed', 'seed', 1, '{}', '{}', 0, 0`)}
${rows("webhooks", "id, account_id, url, events, secret, status, created_at, updated_at",
    `'wh_s${round}_' || i, '${acc}', 'https://example.com/h' || i, '["seed.event"]', 'x', 'active', 0, 0`)}
${rows("events", "id, account_id, type, entity, created_at", `'evt_s${round}_' || i, '${acc}', 'seed.event', '{}', 0`)}
${rows("deliveries", "id, account_id, webhook_id, event_id, status, attempts, created_at, updated_at",
    `'dlv_s${round}_' || i, '${acc}', 'wh_s${round}_' || i, 'evt_s${round}_' || i, 'succeeded', 1, 0, 0`)}`);
}

/** Sums the per-invocation `ops` lines a COUNT_OPS Keyhook logged, over those `pick` selects. */
function sumOps(log, pick) {
  const lines = log
    .split("\n")
    .filter((l) => l.startsWith('{"msg":"ops"'))
    .map((l) => JSON.parse(l))
    .filter(pick);
  const total = { invocations: lines.length };
  for (const l of lines) for (const [k, v] of Object.entries(l)) if (typeof v === "number") total[k] = (total[k] ?? 0) + v;
  return total;
}
const per = (total, n) => Object.fromEntries(Object.entries(total).filter(([k]) => k !== "invocations" && k !== "messages").map(([k, v]) => [k, +(v / n).toFixed(2)]));

async function operations(accountId, key) {
  const counting = await startKeyhook(["--var", "COUNT_OPS:true"], "8798", stateCopy("counting"));
  const n = 200;
  const marker = counting.log().length;
  for (let i = 0; i < n; i++) await fetch(`${COUNTING}/v1/whoami`, { headers: { "x-api-key": key } });
  for (let i = 0; i < n; i++) await fetch(`${COUNTING}/v1/keys/verify`, { method: "POST", headers: adminHeaders(), body: JSON.stringify({ key }) });
  const flow = await pipeline(COUNTING, accountId, { events: 100, webhooks: 5, port: 9878, label: "pipeline (counting run)" });
  await sleep(3000); // the last ops lines
  stop(counting);
  const log = counting.log().slice(marker);
  const whoami = sumOps(log, (l) => l.path === "/v1/whoami");
  const verify = sumOps(log, (l) => l.path === "/v1/keys/verify");
  const publish = sumOps(log, (l) => l.path === "/v1/events");
  const consumer = sumOps(log, (l) => l.kind === "queue" && l.queue === "keyhook-deliveries");
  return {
    requests: n,
    whoami: per(whoami, whoami.invocations),
    verify: per(verify, verify.invocations),
    publishPerEvent: per(publish, publish.invocations),
    consumerPerDelivery: { ...per(consumer, flow.delivered), queueMessagesReceived: +(consumer.messages / flow.delivered).toFixed(2) },
    deliveries: flow.delivered,
  };
}

function chart(rows) {
  const bars = rows.filter((r) => r.requestsPerSecond !== undefined && r.connections === 32);
  const max = Math.max(...bars.map((b) => b.requestsPerSecond));
  const h = 24;
  const svg = [`<svg xmlns="http://www.w3.org/2000/svg" width="820" height="${bars.length * h + 40}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="16" font-weight="bold">Requests/s at 32 connections (bar) and p99 ms (label)</text>`];
  bars.forEach((b, i) => {
    const y = 28 + i * h;
    const w = Math.round((b.requestsPerSecond / max) * 400);
    svg.push(`<text x="10" y="${y + 14}">${b.scenario}</text>`, `<rect x="240" y="${y}" width="${w}" height="18" fill="#0b57d0"/>`,
      `<text x="${246 + w}" y="${y + 14}">${b.requestsPerSecond}/s · p99 ${b.p99} ms</text>`);
  });
  svg.push("</svg>");
  return svg.join("\n");
}

const started = Date.now();
freshState();
const keyhook = await startKeyhook();
const { account, key } = await benchAccount();
let floor = await startFloor();
const results = { date: new Date().toISOString(), machine: `${process.platform} ${process.arch}, ${cpus().length} cores`, command: "npm run bench", auth: [], pipeline: null, operations: null, scaling: [] };

if (ONLY.has("auth")) {
  const cached = await startKeyhook(["--var", "KEY_CACHE_TTL_SECONDS:60"], "8797", stateCopy("cached"));
  results.auth = await authScenarios(key, "", { cached: true });
  stop(cached);
  const byName = (s, c) => results.auth.find((r) => r.scenario === s && r.connections === c);
  results.headlines = {
    whoamiOverFloor: +(byName("whoami", 32).requestsPerSecond / byName("floor", 32).requestsPerSecond).toFixed(2),
    whoamiOverHealth: +(byName("whoami", 32).requestsPerSecond / byName("health", 32).requestsPerSecond).toFixed(2),
    cachedWhoamiOverHealth: +(byName("whoami, key cache on", 32).requestsPerSecond / byName("health, key-cache instance", 32).requestsPerSecond).toFixed(2),
    p99WhoamiMinusFloorAt1: byName("whoami", 1).p99 - byName("floor", 1).p99,
    p99VerifyMinusFloorAt1: byName("verify", 1).p99 - byName("floor", 1).p99,
  };
}
if (ONLY.has("pipeline")) results.pipeline = await pipeline(KEYHOOK, account.id);
if (ONLY.has("ops")) results.operations = await operations(account.id, key);
if (ONLY.has("scaling")) {
  let port = 9880;
  const run = Date.now().toString(36);
  for (const [n, round, label] of [[1_000, `${run}a`, "+1k keys and webhooks"], [9_000, `${run}b`, "+10k keys and webhooks"]]) {
    seed(n, round);
    floor = await startFloor(floor); // a fresh copy with the seeded rows
    const rows = (await authScenarios(key, `${label}: `, { single: false })).filter((r) => /whoami|floor/.test(r.scenario));
    const flow = await pipeline(KEYHOOK, account.id, { events: 100, webhooks: 5, port: port++, label: `${label}: webhook pipeline` });
    results.scaling.push(...rows, flow);
  }
}
// Every error or warning Keyhook logged during the run (a 5xx in the tables is explained here).
results.keyhookLog = keyhook.log().split("\n").filter((l) => /"level":"(error|warn)"/.test(l)).slice(0, 50);
results.seconds = Math.round((Date.now() - started) / 1000);
const day = results.date.slice(0, 10);
mkdirSync("bench/results", { recursive: true });
writeFileSync(`bench/results/${day}.json`, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(`bench/results/${day}.svg`, chart([...results.auth, ...results.scaling]));
const httpRows = [...results.auth, ...results.scaling].filter((r) => r.requestsPerSecond !== undefined);
console.table(httpRows.map(({ scenario, connections, requestsPerSecond, p50, p99, p999, non2xx }) => ({ scenario, connections, requestsPerSecond, p50, p99, p999, non2xx })));
console.table([results.pipeline, ...results.scaling.filter((r) => r.deliveriesPerSecond !== undefined)].filter(Boolean));
if (results.operations) console.table(Object.fromEntries(Object.entries(results.operations).filter(([, v]) => typeof v === "object")));
console.log(results.headlines, `${results.seconds} s`);
if (results.keyhookLog.length > 0) console.log("Keyhook logged:\n" + results.keyhookLog.join("\n"));
stopAll();
process.exit(0);

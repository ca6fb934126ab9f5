#!/usr/bin/env node
// `npm run bench`: Keyhook under `wrangler dev` (local D1, KV, Queues) on this machine, measured
// side by side with a floor Worker; then the webhook pipeline; then scaling with 10× and 100× the
// keys. Writes bench/results/<date>.json, bench/results/<date>.svg and prints the table.
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import autocannon from "autocannon";

const KEYHOOK = "http://localhost:8795";
const FLOOR = "http://localhost:8796";
const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const procs = [];

function start(cmd, args, env = {}) {
  const p = spawn(cmd, args, { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let log = "";
  p.stdout.on("data", (d) => (log += d));
  p.stderr.on("data", (d) => (log += d));
  procs.push(p);
  return () => log;
}
async function up(url, log) {
  for (let i = 0; i < 240; i++) {
    if (await fetch(url).then(() => true, () => false)) return;
    await sleep(500);
  }
  throw new Error(`${url} did not start:\n${log().slice(-2000)}`);
}
function stopAll() {
  for (const p of procs) try { process.kill(-p.pid, "SIGTERM"); } catch {}
}
process.on("exit", stopAll);

const admin = () => readFileSync(".dev.vars", "utf8").match(/^ADMIN_TOKEN=(.*)$/m)[1].trim();
async function api(method, path, body, headers = {}) {
  const res = await fetch(KEYHOOK + path, {
    method,
    headers: { authorization: `Bearer ${admin()}`, "content-type": "application/json", ...headers },
    body: body && JSON.stringify(body),
  });
  return res.json();
}

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
  };
  console.log(JSON.stringify(out));
  return out;
}

async function authScenarios(key, label) {
  const rows = [];
  for (const connections of [32, 1]) {
    const common = { connections, pipelining: 1 };
    await autocannon({ url: `${KEYHOOK}/health`, duration: 2, connections }); // warm-up, excluded
    rows.push(await load(`${label}health`, { ...common, url: `${KEYHOOK}/health` }));
    rows.push(await load(`${label}floor`, { ...common, url: `${FLOOR}/`, headers: { "x-api-key": key } }));
    rows.push(await load(`${label}whoami`, { ...common, url: `${KEYHOOK}/v1/whoami`, headers: { "x-api-key": key } }));
    rows.push(
      await load(`${label}verify`, {
        ...common,
        url: `${KEYHOOK}/v1/keys/verify`,
        method: "POST",
        headers: { authorization: `Bearer ${admin()}`, "content-type": "application/json" },
        body: JSON.stringify({ key }),
      }),
    );
  }
  return rows;
}

async function pipeline(accountId, events = 300, webhooksCount = 5) {
  const arrivals = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const at = Date.now();
      const parsed = JSON.parse(body);
      arrivals.push({ id: req.headers["webhook-id"], hook: req.url, sentAt: parsed.entity.sentAt, at });
      res.end("ok");
    });
  });
  await new Promise((r) => server.listen(9877, "127.0.0.1", r));
  for (let i = 0; i < webhooksCount; i++) {
    await api("POST", "/v1/webhooks", { url: `http://127.0.0.1:9877/h${i}`, events: ["bench.event"] }, { "x-account-id": accountId });
  }
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < events) {
        next++;
        await api("POST", "/v1/events", { type: "bench.event", entity: { sentAt: Date.now() } }, { "x-account-id": accountId });
      }
    }),
  );
  const expected = events * webhooksCount;
  const deadline = Date.now() + 180_000;
  while (new Set(arrivals.map((a) => `${a.hook} ${a.id}`)).size < expected && Date.now() < deadline) await sleep(200);
  server.close();
  const unique = new Map();
  for (const a of arrivals) if (!unique.has(`${a.hook} ${a.id}`)) unique.set(`${a.hook} ${a.id}`, a);
  const latencies = [...unique.values()].map((a) => a.at - a.sentAt).sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  const last = Math.max(...arrivals.map((a) => a.at));
  const out = {
    scenario: "webhook pipeline",
    events,
    webhooks: webhooksCount,
    expected,
    delivered: unique.size,
    lost: expected - unique.size,
    duplicates: arrivals.length - unique.size,
    deliveriesPerSecond: Math.round(unique.size / ((last - started) / 1000)),
    p50: pct(50),
    p99: pct(99),
  };
  console.log(JSON.stringify(out));
  return out;
}

/** Adds `n` keys (other accounts') straight into the local D1, to see whether lookups slow down. */
function seedKeys(n, round) {
  const sql = `INSERT INTO accounts (id, name, plan, created_at, updated_at) VALUES ('acc_seed${round}', 'seed', 'pro', 0, 0);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${n})
INSERT INTO api_keys (id, account_id, name, hash, prefix, last4, enabled, metadata, created_by, created_at, updated_at)
SELECT 'key_seed${round}_' || i, 'acc_seed${round}', 'seed', lower(hex(randomblob(32))), 'kh_live_seed', 'seed', 1, '{}', '{}', 0, 0 FROM c;`;
  writeFileSync("/tmp/keyhook-seed.sql", sql);
  const r = spawnSync("node_modules/.bin/wrangler", ["d1", "execute", "DB", "--local", "--file", "/tmp/keyhook-seed.sql"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
}

function chart(rows) {
  const bars = rows.filter((r) => r.requestsPerSecond !== undefined && r.connections === 32);
  const max = Math.max(...bars.map((b) => b.requestsPerSecond));
  const h = 24;
  const svg = [`<svg xmlns="http://www.w3.org/2000/svg" width="780" height="${bars.length * h + 40}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="16" font-weight="bold">Requests/s at 32 connections (bar) and p99 ms (label)</text>`];
  bars.forEach((b, i) => {
    const y = 28 + i * h;
    const w = Math.round((b.requestsPerSecond / max) * 400);
    svg.push(`<text x="10" y="${y + 14}">${b.scenario}</text>`, `<rect x="200" y="${y}" width="${w}" height="18" fill="#0b57d0"/>`,
      `<text x="${206 + w}" y="${y + 14}">${b.requestsPerSecond}/s · p99 ${b.p99} ms</text>`);
  });
  svg.push("</svg>");
  return svg.join("\n");
}

const started = Date.now();
const logK = start("npm", ["run", "dev"], { PORT: "8795" });
await up(`${KEYHOOK}/health`, logK);
const logF = start("node_modules/.bin/wrangler", ["dev", "-c", "bench/floor/wrangler.toml", "--port", "8796", "--persist-to", ".wrangler/state"]);
await up(FLOOR, logF);

const { account } = await api("POST", "/v1/accounts", { name: "Bench", plan: "enterprise" });
await api("PATCH", `/v1/accounts/${account.id}`, { limits: { rateLimitPerHour: 1_000_000 } });
const { key } = await api("POST", "/v1/api-keys", { name: "bench" }, { "x-account-id": account.id });

const results = { date: new Date().toISOString(), machine: `${process.platform} ${process.arch}, ${(await import("node:os")).cpus().length} cores`, command: "npm run bench", auth: [], pipeline: null, scaling: [] };
results.auth = await authScenarios(key, "");
results.pipeline = await pipeline(account.id);
for (const [n, round] of [[1_000, 1], [9_000, 2]]) {
  seedKeys(n, round);
  const rows = (await authScenarios(key, `+${round === 1 ? "1k" : "10k"} keys: `)).filter((r) => r.connections === 32 && /whoami|floor/.test(r.scenario));
  results.scaling.push(...rows);
}
const byName = (s, c) => results.auth.find((r) => r.scenario === s && r.connections === c);
results.headlines = {
  whoamiOverFloor: +(byName("whoami", 32).requestsPerSecond / byName("floor", 32).requestsPerSecond).toFixed(2),
  whoamiOverHealth: +(byName("whoami", 32).requestsPerSecond / byName("health", 32).requestsPerSecond).toFixed(2),
  p99WhoamiMinusFloorAt1: byName("whoami", 1).p99 - byName("floor", 1).p99,
  p99VerifyMinusFloorAt1: byName("verify", 1).p99 - byName("floor", 1).p99,
};
results.seconds = Math.round((Date.now() - started) / 1000);
const day = results.date.slice(0, 10);
mkdirSync("bench/results", { recursive: true });
writeFileSync(`bench/results/${day}.json`, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(`bench/results/${day}.svg`, chart([...results.auth, ...results.scaling]));
console.table([...results.auth, ...results.scaling].map(({ scenario, connections, requestsPerSecond, p50, p99, p999, non2xx }) => ({ scenario, connections, requestsPerSecond, p50, p99, p999, non2xx })));
console.table([results.pipeline]);
console.log(results.headlines, `${results.seconds} s`);
stopAll();
process.exit(0);

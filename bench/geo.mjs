#!/usr/bin/env node
// `npm run bench:geo`: verification at the edge, on simulated geography. One D1 primary (its own
// `wrangler dev` process) answers every colo after an injected round trip (30, 100, 250 ms); three
// simulated colos with the edge tier (EDGE_CACHE=local: each process its own cache and isolates)
// and three with today's path (EDGE_CACHE=off: every check reads the primary), all running
// Keyhook's own code (bench/geo/colo.ts wraps only `DB`); and a purge service (in this process)
// that fans a purge out to the edge colos, with a configurable delay, failure rate and rate limit.
// Writes bench/results/<date>-geo.json and prints the tables. GEO_TRIALS (default 100) sets the
// revocation trials per condition.
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import autocannon from "autocannon";
import { sleep, start, stopAll, up } from "./lib.mjs";

const TRIALS = Number(process.env.GEO_TRIALS ?? 100);
/** GEO_ONLY=revocation runs the revocation trials alone (and writes <date>-geo-revocation.json). */
const ONLY = process.env.GEO_ONLY ?? "";
const DELAYS = [30, 100, 250];
const PRIMARY = "http://127.0.0.1:8810";
const EDGE = [8811, 8812, 8813].map((p) => `http://127.0.0.1:${p}`);
const OFF = [8814, 8815, 8816].map((p) => `http://127.0.0.1:${p}`);
const HUB_PORT = 8819;
const ADMIN = randomBytes(24).toString("hex");
const SECRETS = { JWT_SECRET: randomBytes(24).toString("hex"), WEBHOOK_SECRET_KEY: randomBytes(32).toString("base64") };
const STATE = ".wrangler/geo";
/** The deployed default; the bound phase restarts the edge colos with a short one, to wait it out. */
const TTL_SECONDS = 60;
const BOUND_TTL_SECONDS = 15;

const pct = (xs, p) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 10) / 10;
};
const stats = (xs) => ({ n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), max: pct(xs, 100) });

// ---- the purge service: what Workers Cache's purge is to the real colos -------------------------
const hub = {
  delayMs: 20,
  failRate: 0,
  calls: 0,
  failed: 0,
  limited: 0,
  tags: 0,
  bucket: Infinity,
  burst: Infinity,
  perMinute: 0,
  refilledAt: Date.now(),
};
function takeToken() {
  if (hub.burst === Infinity) return true;
  const now = Date.now();
  const refill = hub.perMinute > 0 ? Math.floor(((now - hub.refilledAt) / 60_000) * hub.perMinute) : 0;
  if (refill > 0) {
    hub.bucket = Math.min(hub.burst, hub.bucket + refill);
    hub.refilledAt = now;
  }
  if (hub.bucket <= 0) return false;
  hub.bucket -= 1;
  return true;
}
const hubServer = http.createServer(async (req, res) => {
  let body = "";
  for await (const chunk of req) body += chunk;
  hub.calls++;
  const { tags } = JSON.parse(body || "{}");
  hub.tags += tags?.length ?? 0;
  await sleep(hub.delayMs);
  if (!takeToken()) {
    hub.limited++;
    res.writeHead(429).end("rate limited");
    return;
  }
  if (Math.random() < hub.failRate) {
    hub.failed++;
    res.writeHead(500).end("purge failed");
    return;
  }
  const answers = await Promise.all(
    EDGE.map((colo) =>
      fetch(`${colo}/__edge/purge`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        body: JSON.stringify({ tags }),
      }).then((r) => r.ok),
    ),
  );
  res.writeHead(answers.every(Boolean) ? 200 : 502).end();
});

// ---- processes ----------------------------------------------------------------------------------
const wrangler = "node_modules/.bin/wrangler";
async function startPrimary() {
  rmSync(STATE, { recursive: true, force: true });
  mkdirSync(STATE, { recursive: true });
  const apply = start(wrangler, [
    "d1",
    "migrations",
    "apply",
    "DB",
    "--local",
    "-c",
    "bench/geo/primary/wrangler.toml",
    "--persist-to",
    `${STATE}/primary`,
  ]);
  for (let i = 0; i < 120 && !/Migrations|No migrations|✅/.test(apply.log()); i++) await sleep(500);
  await sleep(1000);
  const p = start(wrangler, [
    "dev",
    "-c",
    "bench/geo/primary/wrangler.toml",
    "--port",
    "8810",
    "--inspector-port",
    "9310",
    "--persist-to",
    `${STATE}/primary`,
  ]);
  await up(`${PRIMARY}/stats`, p);
}
const coloProcs = [];
async function startColo(url, mode, i, fillWindowMs = 300, ttlSeconds = TTL_SECONDS) {
  const port = new URL(url).port;
  const vars = {
    ADMIN_TOKEN: ADMIN,
    ...SECRETS,
    EDGE_CACHE: mode,
    EDGE_PURGE_URL: `http://127.0.0.1:${HUB_PORT}/purge`,
    GEO_PRIMARY_URL: PRIMARY,
    AUTH_FAILURE_LIMIT: "100000",
    EDGE_RECORD_TTL_SECONDS: String(ttlSeconds),
    // Set for the primary's distance, as docs/keys.md says: above its read latency, or nothing is cached.
    EDGE_FILL_WINDOW_MS: String(fillWindowMs),
    WEBHOOK_ALLOW_PRIVATE_URLS: "true",
  };
  const args = [
    "dev",
    "-c",
    "bench/geo/wrangler.colo.toml",
    "--port",
    port,
    "--inspector-port",
    String(9320 + i),
    "--persist-to",
    `${STATE}/colo-${port}`,
  ];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const p = start(wrangler, args);
  coloProcs.push({ p, url });
  await up(`${url}/health`, p);
}

/** The fill window a deployment whose primary is `delay` ms away would set: its latency and 100 ms. */
const windowFor = (delay) => delay + 100;

/** Restarts the edge colos with the fill window for `delay` (their caches start empty). */
async function edgeColosFor(delay, ttlSeconds = TTL_SECONDS) {
  for (const { p, url } of coloProcs.filter((c) => EDGE.includes(c.url))) {
    try {
      process.kill(-p.pid, "SIGTERM");
    } catch {}
    for (
      let i = 0;
      i < 40 &&
      (await fetch(`${url}/health`).then(
        () => true,
        () => false,
      ));
      i++
    )
      await sleep(250);
  }
  coloProcs.splice(0, coloProcs.length, ...coloProcs.filter((c) => !EDGE.includes(c.url)));
  for (const [i, url] of EDGE.entries()) await startColo(url, "local", i, windowFor(delay), ttlSeconds);
  await setDelay(delay);
}
const setDelay = (ms) => Promise.all([...EDGE, ...OFF].map((c) => fetch(`${c}/__geo/delay?ms=${ms}`)));
const primaryStats = async () => (await fetch(`${PRIMARY}/stats`)).json();
const resetPrimary = () => fetch(`${PRIMARY}/stats/reset`);

// ---- the API ------------------------------------------------------------------------------------
async function api(colo, method, path, body, headers = {}) {
  const res = await fetch(`${colo}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}
async function timedWhoami(colo, key) {
  const t = performance.now();
  const res = await fetch(`${colo}/v1/whoami`, { headers: { "x-api-key": key } });
  await res.arrayBuffer();
  return { ms: performance.now() - t, status: res.status, sentAt: t, doneAt: performance.now() };
}
let account;
async function newKey(colo = EDGE[0]) {
  const r = await api(
    colo,
    "POST",
    "/v1/api-keys",
    { name: "geo", rateLimitPerHour: 1_000_000_000 },
    { "x-account-id": account },
  );
  if (r.status !== 201) throw new Error(`key create: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.apiKey.id, key: r.body.key };
}

// ---- 1. latency: cold and warm, every colo, every delay, both paths -----------------------------
async function latency(delay) {
  await setDelay(delay);
  const out = {};
  for (const [path, colos] of [
    ["edge", EDGE],
    ["today", OFF],
  ]) {
    const keys = [];
    for (let i = 0; i < 12; i++) keys.push(await newKey(colos[0]));
    out[path] = [];
    for (const colo of colos) {
      const cold = [];
      const warm = [];
      for (const k of keys) cold.push((await timedWhoami(colo, k.key)).ms);
      await sleep(200); // the fills' puts land
      for (let round = 0; round < 8; round++) for (const k of keys) warm.push((await timedWhoami(colo, k.key)).ms);
      // The floor of any request to this colo on this machine: /health (no I/O, no credential).
      const health = [];
      for (let i = 0; i < 48; i++) {
        const t = performance.now();
        await (await fetch(`${colo}/health`)).arrayBuffer();
        health.push(performance.now() - t);
      }
      await resetPrimary();
      const n = 60;
      for (let i = 0; i < n; i++) await timedWhoami(colo, keys[i % keys.length].key);
      const q = (await primaryStats()).statements / n;
      out[path].push({
        colo: new URL(colo).port,
        cold: stats(cold),
        warm: stats(warm),
        health: stats(health),
        primaryQueriesPerWarmVerification: q,
      });
    }
  }
  return out;
}

/**
 * A warm verification beside this machine's floor for any request to a colo (`/health`: no I/O, no
 * credential), interleaved so both see the same load: the distance is what the edge path costs.
 */
async function warmBesideFloor() {
  const out = [];
  const keys = [];
  for (let i = 0; i < 8; i++) keys.push(await newKey(EDGE[0]));
  for (const colo of EDGE) {
    for (const k of keys) await timedWhoami(colo, k.key);
    await sleep(200);
    const warm = [];
    const health = [];
    for (let round = 0; round < 12; round++)
      for (const k of keys) {
        warm.push((await timedWhoami(colo, k.key)).ms);
        const t = performance.now();
        await (await fetch(`${colo}/health`)).arrayBuffer();
        health.push(performance.now() - t);
      }
    out.push({ colo: new URL(colo).port, warm: stats(warm), health: stats(health) });
  }
  return out;
}

// ---- 2. a Zipf mix of 1,000 keys -----------------------------------------------------------------
function zipfSampler(n, s = 1.1) {
  const weights = Array.from({ length: n }, (_, i) => 1 / (i + 1) ** s);
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf = [];
  let acc = 0;
  for (const w of weights) {
    acc += w / total;
    cdf.push(acc);
  }
  return () => {
    const r = Math.random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < r) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}
async function zipf(keys, delay, requests = 3000) {
  await setDelay(delay);
  const out = {};
  for (const [path, colos] of [
    ["edge", EDGE],
    ["today", OFF],
  ]) {
    const pick = zipfSampler(keys.length);
    await resetPrimary();
    const lat = [];
    let next = 0;
    const worker = async () => {
      while (next < requests) {
        const i = next++;
        const r = await timedWhoami(colos[i % colos.length], keys[pick()].key);
        if (r.status !== 200) throw new Error(`zipf whoami ${r.status}`);
        lat.push(r.ms);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const s = await primaryStats();
    out[path] = {
      requests,
      latency: stats(lat),
      primaryQueriesPerVerification: Math.round((s.statements / requests) * 1000) / 1000,
    };
  }
  return out;
}

// ---- 3. the revocation window -------------------------------------------------------------------
async function revocationTrial() {
  const k = await newKey(EDGE[0]);
  for (const colo of EDGE) for (let i = 0; i < 2; i++) await timedWhoami(colo, k.key);
  await sleep(150); // warm: the fills' puts land
  const probes = EDGE.map(() => []);
  let probing = true;
  // A prober per colo: a request, then the next 10 ms after it answered (closed loop: on two cores an
  // open loop of 300 requests/s across seven processes would measure the machine, not the design).
  const loops = EDGE.map(async (colo, c) => {
    while (probing) {
      probes[c].push(await timedWhoami(colo, k.key));
      await sleep(10);
    }
  });
  await sleep(60);
  const via = EDGE[Math.floor(Math.random() * EDGE.length)];
  const t0 = performance.now();
  const revoked = await api(via, "DELETE", `/v1/api-keys/${k.id}`, undefined, { "x-account-id": account });
  const answeredAt = performance.now();
  const unconfirmed = revoked.headers.get("keyhook-invalidation");
  const deadline = answeredAt + 3000;
  while (performance.now() < deadline && probes.some((p) => !p.some((r) => r.status === 401 && r.sentAt > answeredAt)))
    await sleep(20);
  await sleep(100);
  probing = false;
  await Promise.all(loops);
  const firstRefusal = probes.map((p) => {
    const refused = p.filter((r) => r.status === 401).map((r) => r.doneAt - t0);
    return refused.length ? Math.min(...refused) : null;
  });
  const admittedAfterAnswer = probes.reduce(
    (n, p) => n + p.filter((r) => r.sentAt > answeredAt && r.status === 200).length,
    0,
  );
  const probesAfterAnswer = probes.reduce((n, p) => n + p.filter((r) => r.sentAt > answeredAt).length, 0);
  return {
    revokeMs: answeredAt - t0,
    firstRefusal,
    admittedAfterAnswer,
    probesAfterAnswer,
    unconfirmed,
    status: revoked.status,
  };
}
async function revocations(label, trials) {
  const results = [];
  const callsBefore = hub.calls;
  for (let i = 0; i < trials; i++) results.push(await revocationTrial());
  const perColo = EDGE.map((_, c) => stats(results.map((r) => r.firstRefusal[c]).filter((x) => x !== null)));
  const summary = {
    condition: label,
    trials,
    revokeCall: stats(results.map((r) => r.revokeMs)),
    firstRefusalPerColo: perColo,
    admissionsAfterAnswer: results.reduce((n, r) => n + r.admittedAfterAnswer, 0),
    probesAfterAnswer: results.reduce((n, r) => n + r.probesAfterAnswer, 0),
    unconfirmedAnswers: results.filter((r) => r.unconfirmed).length,
    failedRevokes: results.filter((r) => r.status !== 200).length,
    purgeCalls: hub.calls - callsBefore,
  };
  console.log(JSON.stringify(summary));
  return summary;
}

/** 50 revocations at once: each answered after its purge; none admitted after its answer; calls coalesced. */
async function burst(n = 50) {
  const keys = [];
  for (let i = 0; i < n; i++) keys.push(await newKey(EDGE[i % EDGE.length]));
  for (const colo of EDGE) for (const k of keys) await timedWhoami(colo, k.key);
  await sleep(300);
  const callsBefore = hub.calls;
  const tagsBefore = hub.tags;
  let admitted = 0;
  let probed = 0;
  const t0 = performance.now();
  const answers = await Promise.all(
    keys.map(async (k, i) => {
      const r = await api(EDGE[i % EDGE.length], "DELETE", `/v1/api-keys/${k.id}`, undefined, {
        "x-account-id": account,
      });
      const ms = performance.now() - t0;
      for (const colo of EDGE) {
        const probe = await timedWhoami(colo, k.key);
        probed++;
        if (probe.status === 200) admitted++;
      }
      return { ms, status: r.status, unconfirmed: r.headers.get("keyhook-invalidation") };
    }),
  );
  const summary = {
    revocations: n,
    revokeCall: stats(answers.map((a) => a.ms)),
    purgeCalls: hub.calls - callsBefore,
    tagsPurged: hub.tags - tagsBefore,
    admissionsAfterAnswer: admitted,
    probesAfterAnswer: probed,
    unconfirmedAnswers: answers.filter((a) => a.unconfirmed).length,
  };
  console.log(JSON.stringify({ burst: summary }));
  return summary;
}

/**
 * Every purge refused: the revoke answers within its budget, unconfirmed, naming `everywhere-by`;
 * until then a colo may still admit the key from its cache, from then on none does.
 */
async function boundUnderFailure(trials) {
  const out = [];
  for (let t = 0; t < trials; t++) {
    const k = await newKey(EDGE[0]);
    for (const colo of EDGE) for (let i = 0; i < 2; i++) await timedWhoami(colo, k.key);
    await sleep(150);
    const t0 = performance.now();
    const wall0 = Date.now();
    const revoked = await api(EDGE[t % EDGE.length], "DELETE", `/v1/api-keys/${k.id}`, undefined, {
      "x-account-id": account,
    });
    const answeredMs = performance.now() - t0;
    const header = revoked.headers.get("keyhook-invalidation") ?? "";
    const by = Date.parse(header.split("everywhere-by=")[1] ?? "");
    let beforeBound = 0;
    let afterBound = 0;
    let probesAfterBound = 0;
    while (Date.now() < by + 2_000) {
      for (const colo of EDGE) {
        const sent = Date.now();
        const r = await timedWhoami(colo, k.key);
        if (r.status === 200 && sent > by) afterBound++;
        if (r.status === 200 && sent <= by) beforeBound++;
        if (sent > by) probesAfterBound++;
      }
      await sleep(100);
    }
    out.push({
      revokeMs: Math.round(answeredMs),
      header,
      boundAfterMs: by - wall0,
      admittedBeforeBound: beforeBound,
      admittedAfterBound: afterBound,
      probesAfterBound,
    });
    console.log(JSON.stringify(out.at(-1)));
  }
  return out;
}

// ---- 4. throughput with no delay: the edge beside today's path ----------------------------------
async function throughput() {
  await setDelay(0);
  const edgeKey = await newKey(EDGE[0]);
  const offKey = await newKey(OFF[0]);
  for (let i = 0; i < 3; i++) {
    await timedWhoami(EDGE[0], edgeKey.key);
    await timedWhoami(OFF[0], offKey.key);
  }
  const rounds = [];
  for (let round = 0; round < 2; round++) {
    for (const [path, url, key] of [
      ["edge", EDGE[0], edgeKey.key],
      ["today", OFF[0], offKey.key],
    ]) {
      const r = await autocannon({
        url: `${url}/v1/whoami`,
        connections: 32,
        duration: 8,
        headers: { "x-api-key": key },
      });
      rounds.push({
        path,
        round,
        requestsPerSecond: Math.round(r.requests.average),
        p50: r.latency.p50,
        p99: r.latency.p99,
        non2xx: r.non2xx,
      });
      console.log(JSON.stringify(rounds.at(-1)));
    }
  }
  const median = (path) =>
    pct(
      rounds.filter((r) => r.path === path).map((r) => r.requestsPerSecond),
      50,
    );
  return { rounds, edgeOverToday: Math.round((median("edge") / median("today")) * 100) / 100 };
}

// ---- run ----------------------------------------------------------------------------------------
const started = Date.now();
try {
  await new Promise((r) => hubServer.listen(HUB_PORT, "127.0.0.1", r));
  await startPrimary();
  for (const [i, url] of EDGE.entries()) await startColo(url, "local", i, windowFor(0));
  for (const [i, url] of OFF.entries()) await startColo(url, "off", i + 3);
  await setDelay(0);
  const acc = await api(EDGE[0], "POST", "/v1/accounts", { name: "Geo", plan: "enterprise" });
  if (acc.status !== 201) throw new Error(`account create: ${acc.status} ${JSON.stringify(acc.body)}`);
  account = acc.body.account.id;
  await api(EDGE[0], "PATCH", `/v1/accounts/${account}`, { limits: { maxActiveKeys: 100_000 } });

  const results = {
    date: new Date().toISOString(),
    trials: TRIALS,
    hubDelayMs: hub.delayMs,
    recordTtlSeconds: { default: TTL_SECONDS, boundPhase: BOUND_TTL_SECONDS },
    fillWindowMs: Object.fromEntries([0, ...DELAYS].map((d) => [d, windowFor(d)])),
  };
  if (ONLY !== "revocation") results.throughputNoDelay = await throughput();
  results.latency = {};
  for (const d of ONLY === "revocation" ? [] : DELAYS) {
    await edgeColosFor(d);
    results.latency[d] = await latency(d);
    console.log(JSON.stringify({ delay: d, latency: results.latency[d] }));
  }
  await edgeColosFor(100);
  results.warmBesideFloor = await warmBesideFloor();
  console.log(JSON.stringify({ warmBesideFloor: results.warmBesideFloor }));
  if (ONLY !== "revocation") {
    await setDelay(0);
    const many = [];
    for (let i = 0; i < Number(process.env.GEO_KEYS ?? 1000); i++) many.push(await newKey(EDGE[i % EDGE.length]));
    // Twice: the first pass starts from empty colo caches, the second finds what the first filled.
    results.zipf = { first: await zipf(many, 100), second: await zipf(many, 100) };
    console.log(JSON.stringify({ zipf: results.zipf }));
  }

  await setDelay(100);
  results.revocation = [];
  results.revocation.push(await revocations("primary 100 ms away", TRIALS));
  hub.failRate = 0.1;
  results.revocation.push(await revocations("10 % of purges failing", TRIALS));
  hub.failRate = 0;
  results.burst = await burst(50);
  // The platform's limits (25 at once, then 5 a minute), already spent: every purge refused.
  await edgeColosFor(100, BOUND_TTL_SECONDS);
  Object.assign(hub, { burst: 25, bucket: 0, perMinute: 0, refilledAt: Date.now() });
  results.boundUnderRefusedPurges = await boundUnderFailure(3);
  Object.assign(hub, { burst: Infinity, bucket: Infinity });
  results.seconds = Math.round((Date.now() - started) / 1000);
  mkdirSync("bench/results", { recursive: true });
  const file = `bench/results/${results.date.slice(0, 10)}-geo${ONLY ? `-${ONLY}` : ""}.json`;
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${file} (${results.seconds} s)`);
} catch (err) {
  console.error(err);
  for (const { p } of coloProcs)
    console.error(
      p
        .log()
        .split("\n")
        .filter((l) => /error|invalid/i.test(l))
        .slice(-5)
        .join("\n"),
    );
  if (process.env.GEO_DEBUG) await sleep(600_000);
} finally {
  hubServer.close();
  stopAll();
}
process.exit(0);

#!/usr/bin/env node
// `npm run bench`: Keyhook under `wrangler dev` (local D1, KV, Queues) on this machine, measured
// side by side with a floor Worker and with today's path (EDGE_CACHE=off: every check reads D1); then the webhook pipeline; then
// the operations each request and delivery costs (counted by a Keyhook started with COUNT_OPS);
// then scaling with 100× and 1,000× the keys and webhooks. Writes bench/results/<date>.json and
// bench/results/<date>.svg and prints the tables. BENCH_ONLY=auth,pipeline,ops,scaling runs a subset.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import autocannon from "autocannon";
import {
  adminHeaders,
  api,
  benchAccount,
  FLOOR,
  FLOOR_ASSETS,
  FLOOR_PIPELINE,
  freshState,
  groupCpu,
  KEYHOOK,
  STATE,
  sleep,
  startFloor,
  startFloorBehindAssets,
  startFloorPipeline,
  startKeyhook,
  stateCopy,
  stop,
  stopAll,
} from "./lib.mjs";
import { openLoop, saturated, webhooks } from "./pipeline.mjs";

const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const ONLY = new Set((process.env.BENCH_ONLY ?? "auth,pipeline,ops,scaling").split(","));
const CACHED = "http://localhost:8797";
const COUNTING = "http://localhost:8798";
/** Events per saturated pipeline run (× 5 webhooks). */
const PIPELINE_EVENTS = Number(process.env.BENCH_PIPELINE_EVENTS ?? 500);

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
    statuses: Object.fromEntries(
      Object.entries(r.statusCodeStats ?? {})
        .filter(([code]) => !code.startsWith("2"))
        .map(([code, s]) => [code, s.count]),
    ),
  };
  console.log(JSON.stringify(out));
  return out;
}

/** At 1 connection a p99 needs more samples to mean anything: those runs are longer. */
const ONE_CONNECTION_SECONDS = Number(process.env.BENCH_ONE_CONNECTION_SECONDS ?? 20);

async function authScenarios(key, label, { cached = false, single = true, creditKey = null } = {}) {
  const rows = [];
  for (const connections of single ? [32, 1] : [32]) {
    const common = { connections, pipelining: 1, duration: connections === 1 ? ONE_CONNECTION_SECONDS : DURATION };
    const whoami = { headers: { "x-api-key": key } };
    const targets = [
      ["health", { url: `${KEYHOOK}/health` }],
      ["floor", { url: `${FLOOR}/`, ...whoami }],
      ["whoami", { url: `${KEYHOOK}/v1/whoami`, ...whoami }],
      [
        "verify",
        { url: `${KEYHOOK}/v1/keys/verify`, method: "POST", headers: adminHeaders(), body: JSON.stringify({ key }) },
      ],
      // A key with usage credits: every request spends one in the same D1 statement as the lookup.
      ...(creditKey
        ? [
            ["whoami, key with credits", { url: `${KEYHOOK}/v1/whoami`, headers: { "x-api-key": creditKey } }],
            [
              "verify, key with credits",
              {
                url: `${KEYHOOK}/v1/keys/verify`,
                method: "POST",
                headers: adminHeaders(),
                body: JSON.stringify({ key: creditKey }),
              },
            ],
          ]
        : []),
      // The instance on today's path is another process: its own /health is what it is compared with.
      ...(cached
        ? [
            ["health, edge-off instance", { url: `${CACHED}/health` }],
            ["whoami, edge off (today's path)", { url: `${CACHED}/v1/whoami`, ...whoami }],
          ]
        : []),
    ];
    for (const [name, target] of targets) {
      await autocannon({ ...target, duration: 2, connections }); // warm-up, excluded
      rows.push(await load(`${label}${name}`, { ...common, ...target }));
    }
  }
  return rows;
}

/**
 * The headline ratio, measured so that one noisy 8-second sample cannot decide it: the floor and
 * whoami alternately, three rounds at 32 connections, requests/s and workerd CPU per request of
 * each; the ratio of the medians.
 */
async function whoamiBesideFloor(keys, floorProcess) {
  const rounds = [];
  const cpu = (pid) =>
    Object.entries(groupCpu(pid))
      .filter(([name]) => name === "workerd")
      .reduce((sum, [, ms]) => sum + ms, 0);
  const measure = async (url, pid) => {
    const before = cpu(pid);
    let next = 0;
    const r = await autocannon({
      url,
      connections: 32,
      duration: DURATION,
      // Each connection is its own client, with its own key.
      setupClient: (client) => client.setHeaders({ "x-api-key": keys[next++ % keys.length] }),
    });
    return {
      requestsPerSecond: Math.round(r.requests.average),
      cpuMsPerRequest: +((cpu(pid) - before) / r.requests.total).toFixed(2),
    };
  };
  const behindAssets = await startFloorBehindAssets();
  const targets = {
    floor: () => measure(`${FLOOR}/`, floorProcess.pid),
    floorBehindAssets: () => measure(`${FLOOR_ASSETS}/`, behindAssets.pid),
    whoami: () => measure(`${KEYHOOK}/v1/whoami`, keyhookPid),
  };
  for (const target of Object.values(targets)) await target(); // warm-up (each key's first use), excluded
  for (let round = 1; round <= 3; round++) {
    const order = Object.keys(targets);
    for (let i = 1; i < round; i++) order.push(order.shift());
    const row = { round };
    for (const target of order) row[target] = await targets[target]();
    rounds.push(row);
    console.log(JSON.stringify(row));
  }
  stop(behindAssets);
  const median = (xs) => [...xs].sort((a, b) => a - b)[1];
  const med = (target, field) => median(rounds.map((r) => r[target][field]));
  // CPU ratios: the floor's per request over whoami's, so that above 1 reads "whoami is cheaper", as for throughput.
  return {
    rounds,
    ratioOfMedians: +(med("whoami", "requestsPerSecond") / med("floor", "requestsPerSecond")).toFixed(2),
    cpuRatioOfMedians: +(med("floor", "cpuMsPerRequest") / med("whoami", "cpuMsPerRequest")).toFixed(2),
    behindAssets: {
      ratioOfMedians: +(med("whoami", "requestsPerSecond") / med("floorBehindAssets", "requestsPerSecond")).toFixed(2),
      cpuRatioOfMedians: +(med("floorBehindAssets", "cpuMsPerRequest") / med("whoami", "cpuMsPerRequest")).toFixed(2),
    },
  };
}

/** Runs SQL on the local D1 (the one every `wrangler dev` here shares). */
function d1(sql) {
  writeFileSync("/tmp/keyhook-bench.sql", sql);
  const r = spawnSync(
    "node_modules/.bin/wrangler",
    ["d1", "execute", "DB", "--local", "--persist-to", STATE, "--file", "/tmp/keyhook-bench.sql"],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(r.stderr);
}

/** `n` more keys, and `n` more webhooks each with one event and its delivery, in another account. */
function seed(n, round) {
  const acc = `acc_seed${round}`; // round: unique per run (the local state persists between runs)
  const rows = (table, cols, select) =>
    `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${n}) INSERT INTO ${table} (${cols}) SELECT ${select} FROM c;`;
  d1(`INSERT INTO accounts (id, name, plan, created_at, updated_at) VALUES ('${acc}', 'seed', 'enterprise', 0, 0);
${rows(
  "api_keys",
  "id, account_id, name, hash, prefix, last4, enabled, metadata, created_by, created_at, updated_at",
  `'key_s${round}_' || i, '${acc}', 'seed', lower(hex(randomblob(32))), 'kh_live_seed', 'seed', 1, '{}', '{}', 0, 0`,
)}
${rows(
  "webhooks",
  "id, account_id, url, events, secret, status, created_at, updated_at",
  `'wh_s${round}_' || i, '${acc}', 'https://example.com/h' || i, '["seed.event"]', 'x', 'active', 0, 0`,
)}
${rows(
  "events",
  "id, account_id, type, entity, created_at, deliveries",
  `'evt_s${round}_' || i, '${acc}', 'seed.event', '{}', 0, json_array(json_object('w', 'wh_s${round}_' || i, 's', 'succeeded', 'n', 1))`,
)}`);
}

/** The per-invocation `ops` lines a COUNT_OPS Keyhook logged, those `pick` selects. */
const opsLines = (log, pick) =>
  log
    .split("\n")
    .filter((l) => l.startsWith('{"msg":"ops"'))
    .map((l) => JSON.parse(l))
    .filter(pick);

/** Sums numeric fields over lines (of their `part`: the whole invocation, or what it cost `answered`). */
function sumOps(lines, part = (l) => l) {
  const total = { invocations: lines.length };
  for (const l of lines)
    for (const [k, v] of Object.entries(part(l))) if (typeof v === "number") total[k] = (total[k] ?? 0) + v;
  return total;
}
const minus = (a, b) =>
  Object.fromEntries(
    Object.entries(a).map(([k, v]) => [k, typeof v === "number" && k !== "invocations" ? v - (b[k] ?? 0) : v]),
  );
const per = (total, n) =>
  Object.fromEntries(
    Object.entries(total)
      .filter(([k]) => k !== "invocations" && k !== "messages")
      .map(([k, v]) => [k, +(v / n).toFixed(2)]),
  );

/**
 * Operations per unit, counted by a Keyhook started with COUNT_OPS=true on its own copy of the
 * state: whoami, verify, a publish (the request until it answers), its first attempts (the rest of
 * that invocation: `waitUntil`), and deliveries sent by the queue consumer (a receiver failing each
 * first try, so every delivery is retried from the queue).
 */
async function operations(accountId, key, creditKey) {
  const counting = await startKeyhook(["--var", "COUNT_OPS:true"], "8798", stateCopy("counting"));
  const n = 200;
  const events = 100;
  const ok = await webhooks(accountId, { base: COUNTING });
  const retried = await webhooks(accountId, { base: COUNTING, failOnce: true });
  const marker = counting.log().length;
  for (let i = 0; i < n; i++) await fetch(`${COUNTING}/v1/whoami`, { headers: { "x-api-key": key } });
  for (let i = 0; i < n; i++)
    await fetch(`${COUNTING}/v1/keys/verify`, {
      method: "POST",
      headers: adminHeaders(),
      body: JSON.stringify({ key }),
    });
  for (let i = 0; i < n; i++) await fetch(`${COUNTING}/v1/whoami`, { headers: { "x-api-key": creditKey } });
  const flow = await saturated(COUNTING, key, ok, { events, label: "pipeline (counting run)" });
  await sleep(3000); // the last ops lines
  const publishLog = counting.log().slice(marker);
  const retryMarker = counting.log().length;
  const retries = await saturated(COUNTING, key, retried, {
    events: 20,
    label: "pipeline, every first try failing (counting run)",
  });
  await sleep(3000);
  stop(counting);
  const retryLog = counting.log().slice(retryMarker);
  const publishes = opsLines(publishLog, (l) => l.path === "/v1/events");
  const answered = sumOps(publishes, (l) => l.answered);
  const whole = sumOps(publishes);
  const consumer = sumOps(opsLines(retryLog, (l) => l.kind === "queue" && l.queue === "keyhook-deliveries"));
  const delivered = flow.delivered;
  return {
    requests: n,
    whoami: per(sumOps(opsLines(publishLog, (l) => l.path === "/v1/whoami").slice(0, n)), n),
    whoamiWithCredits: per(sumOps(opsLines(publishLog, (l) => l.path === "/v1/whoami").slice(n, 2 * n)), n),
    verify: per(sumOps(opsLines(publishLog, (l) => l.path === "/v1/keys/verify")), n),
    publishPerEvent: { ...per(answered, publishes.length), webhooksPerEvent: 5 },
    firstAttemptsPerDelivery: per(minus(whole, answered), delivered),
    consumerPerRetriedDelivery: per(consumer, retries.delivered),
    deliveries: delivered,
    retriedDeliveries: retries.delivered,
  };
}

/**
 * Saturated throughput of the pipeline floor (as the issue defines it: first attempts through the
 * queue), of the same floor sending first attempts from the publishing request (as Keyhook does),
 * and of Keyhook, one after the other, `rounds` times, the order rotating between rounds. Each run
 * also reports its workerd's CPU per delivered webhook, which moves less than throughput on shared
 * cores. The headlines are ratios of medians.
 */
async function floorBesideKeyhook(accountId, key, rounds = 3) {
  const runs = [];
  const cpuOf = (pid) =>
    Object.entries(groupCpu(pid))
      .filter(([name]) => name === "workerd")
      .reduce((sum, [, ms]) => sum + ms, 0);
  for (let round = 1; round <= rounds; round++) {
    const targets = {
      floor: { setup: await webhooks(accountId), label: "floor pipeline (queue)" },
      inline: { setup: await webhooks(accountId), label: "floor pipeline, first attempt from the request" },
      keyhook: { setup: await webhooks(accountId), label: "Keyhook" },
    };
    const order = ["floor", "inline", "keyhook"];
    for (let i = 1; i < round; i++) order.push(order.shift());
    for (const name of order) {
      const { setup, label } = targets[name];
      // A floor gets a copy of the state made now: it has its webhooks.
      const proc =
        name === "keyhook"
          ? null
          : await startFloorPipeline(name === "inline" ? ["--var", "FIRST_ATTEMPT:inline"] : []);
      const pid = proc ? proc.pid : keyhookPid;
      const before = cpuOf(pid);
      const r = await saturated(name === "keyhook" ? KEYHOOK : FLOOR_PIPELINE, key, setup, {
        events: PIPELINE_EVENTS,
        label: `${label}, round ${round}`,
      });
      runs.push({
        ...r,
        target: name,
        round,
        workerdCpuMsPerDelivery: +((cpuOf(pid) - before) / r.delivered).toFixed(2),
      });
      if (proc) stop(proc);
      await sleep(2000);
      await setup.close();
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const med = (target, field) => median(runs.filter((r) => r.target === target).map((r) => r[field]));
  const summary = Object.fromEntries(
    ["floor", "inline", "keyhook"].map((t) => [
      t,
      {
        deliveriesPerSecond: med(t, "deliveriesPerSecond"),
        workerdCpuMsPerDelivery: med(t, "workerdCpuMsPerDelivery"),
      },
    ]),
  );
  return {
    runs,
    summary,
    keyhookOverFloor: +(summary.keyhook.deliveriesPerSecond / summary.floor.deliveriesPerSecond).toFixed(2),
    keyhookOverInlineFloor: +(summary.keyhook.deliveriesPerSecond / summary.inline.deliveriesPerSecond).toFixed(2),
  };
}

/** One of five endpoints never answers: what the other four get, beside all five healthy. */
async function slowEndpoint(accountId, key) {
  const healthy = await webhooks(accountId);
  const all = await saturated(KEYHOOK, key, healthy, { label: "5 healthy endpoints" });
  const withHang = await webhooks(accountId, { hanging: true });
  const hung = await saturated(KEYHOOK, key, withHang, { label: "4 healthy + 1 hanging past the timeout" });
  await healthy.close();
  await withHang.close();
  return { all, hung, fourKeep: +(hung.firstFourPerSecond / all.firstFourPerSecond).toFixed(2) };
}

/** Latency at fixed offered loads, up the ladder until the p99 passes 1 s (or deliveries go missing). */
async function latencyCurve(accountId, key) {
  const setup = await webhooks(accountId);
  const points = [];
  for (const rate of [50, 100, 200, 400, 600, 800, 1000, 1200, 1600]) {
    const point = await openLoop(KEYHOOK, key, setup, {
      rate,
      seconds: Number(process.env.BENCH_OPEN_LOOP_SECONDS ?? 8),
    });
    points.push(point);
    if (rate >= 400 && (point.p99 === null || point.p99 > 1000 || point.lost > 0)) break;
    await sleep(2000);
  }
  await setup.close();
  const within = points.filter((p) => p.p99 !== null && p.p99 <= 1000 && p.lost === 0);
  return {
    points,
    highestRateWithP99UnderOneSecond: within.length
      ? Math.max(...within.map((p) => p.offeredDeliveriesPerSecond))
      : null,
  };
}

function chart(rows) {
  const bars = rows.filter((r) => r.requestsPerSecond !== undefined && r.connections === 32);
  const max = Math.max(...bars.map((b) => b.requestsPerSecond));
  const h = 24;
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="820" height="${bars.length * h + 40}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="16" font-weight="bold">Requests/s at 32 connections (bar) and p99 ms (label)</text>`,
  ];
  bars.forEach((b, i) => {
    const y = 28 + i * h;
    const w = Math.round((b.requestsPerSecond / max) * 400);
    svg.push(
      `<text x="10" y="${y + 14}">${b.scenario}</text>`,
      `<rect x="240" y="${y}" width="${w}" height="18" fill="#0b57d0"/>`,
      `<text x="${246 + w}" y="${y + 14}">${b.requestsPerSecond}/s · p99 ${b.p99} ms</text>`,
    );
  });
  svg.push("</svg>");
  return svg.join("\n");
}

/** The latency curve (p50 and p99 against the offered rate, log scale) beside the saturated throughput. */
function pipelineChart(pipeline) {
  const W = 820;
  const H = 360;
  const left = 70;
  const top = 40;
  const plotW = 460;
  const plotH = 260;
  const points = pipeline.latency.points.filter((p) => p.p99 !== null);
  const maxRate = Math.max(...points.map((p) => p.offeredDeliveriesPerSecond));
  const x = (rate) => left + (rate / maxRate) * plotW;
  const y = (ms) => top + plotH - ((Math.log10(Math.max(ms, 1)) - 0) / 4) * plotH; // 1 ms … 10 s
  const line = (key, color) =>
    `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((p) => `${x(p.offeredDeliveriesPerSecond).toFixed(1)},${y(p[key]).toFixed(1)}`).join(" ")}"/>` +
    points
      .map(
        (p) =>
          `<circle cx="${x(p.offeredDeliveriesPerSecond).toFixed(1)}" cy="${y(p[key]).toFixed(1)}" r="3" fill="${color}"/>`,
      )
      .join("");
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="18" font-weight="bold">Webhook pipeline: publish → receipt latency at fixed offered loads (open loop), and saturated throughput</text>`,
    ...[1, 10, 100, 1000, 10000].map(
      (ms) =>
        `<line x1="${left}" x2="${left + plotW}" y1="${y(ms)}" y2="${y(ms)}" stroke="#ddd"/><text x="${left - 8}" y="${y(ms) + 4}" text-anchor="end">${ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`}</text>`,
    ),
    `<line x1="${left}" x2="${left + plotW}" y1="${y(1000)}" y2="${y(1000)}" stroke="#b00" stroke-dasharray="4 3"/><text x="${left + plotW - 4}" y="${y(1000) - 5}" text-anchor="end" fill="#b00">p99 goal 1 s</text>`,
    ...points.map(
      (p) =>
        `<text x="${x(p.offeredDeliveriesPerSecond)}" y="${top + plotH + 16}" text-anchor="middle">${p.offeredDeliveriesPerSecond}</text>`,
    ),
    `<text x="${left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle">offered deliveries/s (events/s × 5 webhooks)</text>`,
    line("p50", "#0b57d0"),
    line("p99", "#e8710a"),
    `<text x="${left + 10}" y="${top + 14}" fill="#0b57d0">p50</text><text x="${left + 40}" y="${top + 14}" fill="#e8710a">p99</text>`,
  ];
  const f = pipeline.floorBesideKeyhook;
  const bars = [
    ["floor (queue), median", f.summary.floor.deliveriesPerSecond, "#777"],
    ["floor (first attempt inline), median", f.summary.inline.deliveriesPerSecond, "#aaa"],
    ["Keyhook, median", f.summary.keyhook.deliveriesPerSecond, "#0b57d0"],
  ];
  const bx = 580;
  const max = Math.max(...bars.map((b) => b[1]));
  svg.push(`<text x="${bx}" y="${top + 4}" font-weight="bold">saturated deliveries/s</text>`);
  bars.forEach(([label, value, color], i) => {
    const by = top + 20 + i * 50;
    const w = Math.round((value / max) * 200);
    svg.push(
      `<text x="${bx}" y="${by + 12}">${label}</text><rect x="${bx}" y="${by + 18}" width="${w}" height="18" fill="${color}"/><text x="${bx + w + 6}" y="${by + 32}">${value}/s</text>`,
    );
  });
  svg.push(
    `<text x="${bx}" y="${top + 180}">Keyhook ÷ floor (queue): ${f.keyhookOverFloor}</text>`,
    `<text x="${bx}" y="${top + 198}">Keyhook ÷ floor (inline): ${f.keyhookOverInlineFloor}</text>`,
    "</svg>",
  );
  return svg.join("\n");
}

const started = Date.now();
freshState();
const keyhook = await startKeyhook();
const keyhookPid = keyhook.pid;
const { account, key } = await benchAccount();
/** The same kind of key with usage credits (more than the bench can spend). */
const { key: creditKey } = await api(
  "POST",
  "/v1/api-keys",
  { name: "bench, with credits", credits: { remaining: 1_000_000_000_000 } },
  { "x-account-id": account.id },
);
/**
 * One key per connection for the headline ratio: 32 clients, as in production, not one key 32
 * times (Keyhook reads concurrent lookups of the same hash once, which one key would flatter).
 */
const clientKeys = [];
for (let i = 0; i < 32; i++) {
  const made = await api("POST", "/v1/api-keys", { name: `bench client ${i}` }, { "x-account-id": account.id });
  clientKeys.push(made.key);
}
let floor = await startFloor();
const results = {
  date: new Date().toISOString(),
  machine: `${process.platform} ${process.arch}, ${cpus().length} cores`,
  command: "npm run bench",
  auth: [],
  pipeline: null,
  operations: null,
  scaling: [],
};

if (ONLY.has("auth")) {
  const cached = await startKeyhook(["--var", "EDGE_CACHE:off"], "8797", stateCopy("edge-off"));
  results.auth = await authScenarios(key, "", { cached: true, creditKey });
  stop(cached);
  results.whoamiBesideFloor = await whoamiBesideFloor(clientKeys, floor);
  const byName = (s, c) => results.auth.find((r) => r.scenario === s && r.connections === c);
  results.headlines = {
    whoamiOverFloor: results.whoamiBesideFloor.ratioOfMedians,
    whoamiOverFloorCpu: results.whoamiBesideFloor.cpuRatioOfMedians,
    whoamiOverFloorBehindAssets: results.whoamiBesideFloor.behindAssets.ratioOfMedians,
    whoamiOverFloorBehindAssetsCpu: results.whoamiBesideFloor.behindAssets.cpuRatioOfMedians,
    whoamiOverHealth: +(byName("whoami", 32).requestsPerSecond / byName("health", 32).requestsPerSecond).toFixed(2),
    edgeOffWhoamiOverHealth: +(
      byName("whoami, edge off (today's path)", 32).requestsPerSecond /
      byName("health, edge-off instance", 32).requestsPerSecond
    ).toFixed(2),
    whoamiWithCreditsOverWhoami: +(
      byName("whoami, key with credits", 32).requestsPerSecond / byName("whoami", 32).requestsPerSecond
    ).toFixed(2),
    verifyWithCreditsOverVerify: +(
      byName("verify, key with credits", 32).requestsPerSecond / byName("verify", 32).requestsPerSecond
    ).toFixed(2),
    p99WhoamiMinusFloorAt1: byName("whoami", 1).p99 - byName("floor", 1).p99,
    p99VerifyMinusFloorAt1: byName("verify", 1).p99 - byName("floor", 1).p99,
  };
}
if (ONLY.has("pipeline")) {
  const floorRuns = await floorBesideKeyhook(account.id, key);
  const slow = await slowEndpoint(account.id, key);
  const latency = await latencyCurve(account.id, key);
  results.pipeline = { floorBesideKeyhook: floorRuns, slowEndpoint: slow, latency };
  results.headlines = {
    ...results.headlines,
    pipelineKeyhookOverFloor: floorRuns.keyhookOverFloor,
    pipelineKeyhookOverInlineFloor: floorRuns.keyhookOverInlineFloor,
    pipelineCpuMsPerDelivery: Object.fromEntries(
      Object.entries(floorRuns.summary).map(([t, v]) => [t, v.workerdCpuMsPerDelivery]),
    ),
    slowEndpointFourKeep: slow.fourKeep,
    highestRateWithP99UnderOneSecond: latency.highestRateWithP99UnderOneSecond,
  };
}
if (ONLY.has("ops")) results.operations = await operations(account.id, key, creditKey);
if (ONLY.has("scaling")) {
  const run = Date.now().toString(36);
  for (const [n, round, label] of [
    [1_000, `${run}a`, "+1k keys and webhooks"],
    [9_000, `${run}b`, "+10k keys and webhooks"],
  ]) {
    seed(n, round);
    floor = await startFloor(floor); // a fresh copy with the seeded rows
    const rows = (await authScenarios(key, `${label}: `, { single: false })).filter((r) =>
      /whoami|floor/.test(r.scenario),
    );
    const setup = await webhooks(account.id);
    const flow = await saturated(KEYHOOK, key, setup, { events: 100, label: `${label}: webhook pipeline` });
    await setup.close();
    results.scaling.push(...rows, flow);
  }
}
// Every error or warning Keyhook logged during the run (a 5xx in the tables is explained here).
results.keyhookLog = keyhook
  .log()
  .split("\n")
  .filter((l) => /"level":"(error|warn)"/.test(l))
  .slice(0, 50);
results.seconds = Math.round((Date.now() - started) / 1000);
// A run of only some phases writes files of its own (`<date>-pipeline.json`…), never over a full run's.
const day = results.date.slice(0, 10) + (process.env.BENCH_ONLY ? `-only-${[...ONLY].join("-")}` : "");
mkdirSync("bench/results", { recursive: true });
writeFileSync(`bench/results/${day}.json`, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(`bench/results/${day}.svg`, chart([...results.auth, ...results.scaling]));
if (results.pipeline) writeFileSync(`bench/results/${day}-pipeline.svg`, pipelineChart(results.pipeline));
const httpRows = [...results.auth, ...results.scaling].filter((r) => r.requestsPerSecond !== undefined);
console.table(
  httpRows.map(({ scenario, connections, requestsPerSecond, p50, p99, p999, non2xx }) => ({
    scenario,
    connections,
    requestsPerSecond,
    p50,
    p99,
    p999,
    non2xx,
  })),
);
const flows = [
  ...(results.pipeline?.floorBesideKeyhook.runs ?? []),
  results.pipeline?.slowEndpoint.all,
  results.pipeline?.slowEndpoint.hung,
];
console.table([...flows, ...results.scaling.filter((r) => r.deliveriesPerSecond !== undefined)].filter(Boolean));
if (results.pipeline) console.table(results.pipeline.latency.points);
if (results.operations)
  console.table(Object.fromEntries(Object.entries(results.operations).filter(([, v]) => typeof v === "object")));
console.log(results.headlines, `${results.seconds} s`);
if (results.keyhookLog.length > 0) console.log(`Keyhook logged:\n${results.keyhookLog.join("\n")}`);
stopAll();
process.exit(0);

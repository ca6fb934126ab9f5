// `npm run soak [-- --minutes 10 --rate 60 --keys 500 --floor-minutes 3]`: Keyhook under `wrangler dev` for a while with mixed
// traffic at a steady rate below saturation, one minute at a time:
//   - authenticated requests (whoami and verify) over a pool of thousands of distinct keys,
//   - key churn: create → use → rotate → use the new secret and the old → revoke → use (401),
//   - publishes to a local receiver (two webhooks per account, one of them failing a tenth of
//     first tries with a 500, so the retry path runs too),
//   - admin lists (keys, audit log, attempts, usage of 100 keys, webhooks).
// Per minute it records requests, non-2xx by status (and which were not the expected answer),
// p50/p99 latency, deliveries and their publish → receipt latency, the resident memory of the
// workerd processes, and the JS heap of Keyhook's isolate (through wrangler's inspector: the
// smallest of the minute's samples; and, after a forced full collection, at the start of minute 3
// and at the end — what the isolate keeps).
// Then the floor Worker (bench/floor) takes the same rate of authenticated requests for
// `--floor-minutes` (default 3) on a copy of the state, so workerd's own memory growth under
// `wrangler dev` is measured beside Keyhook's, not argued.
// Pass: no 5xx, no unexpected answer, no lost delivery, the isolate's live heap flat after the
// warm-up (at the end ≤ 1.15 × after the warm-up + 1 MB), p99 in the last minute ≤ 1.5 × the
// second minute's.
// Writes bench/results/<date>-soak.json and -soak.svg and prints the table.

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import {
  adminHeaders,
  api,
  FLOOR,
  freshState,
  inspector,
  KEYHOOK,
  sleep,
  start,
  startKeyhook,
  stateCopy,
  stop,
  stopAll,
  up,
} from "./lib.mjs";

const flag = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const MINUTES = flag("minutes", 10);
const RATE = flag("rate", 60); // authenticated requests/s over the pool (below the knee: see docs/BENCHMARKS.md)
const ACCOUNTS = 4;
const KEYS_PER_ACCOUNT = flag("keys", 500);
const PUBLISHES = 4; // events/s (× 2 webhooks each)
const CHURN = 1; // key lifecycles started per second (7 requests each)
const ADMIN = 1; // admin lists per second
const FLOOR_MINUTES = flag("floor-minutes", 3);
const INSPECTOR = 9232;

/** Keyhook's isolate's JS heap in use (MB), through wrangler's inspector proxy (CDP). */
async function heapProbe(port) {
  const cdp = await inspector(port);
  const send = async (method, timeoutMs = 2000) => (await cdp.send(method, {}, timeoutMs))?.result ?? null;
  const mb = (r) => (r ? +(r.usedSize / 1048576).toFixed(1) : null);
  return {
    /** The heap in use now, garbage included. */
    read: async () => mb(await send("Runtime.getHeapUsage")),
    /**
     * The heap that survives a full collection: a heap snapshot collects first (workerd's
     * inspector has no `collectGarbage`), and the snapshot itself is thrown away.
     */
    live: async () => {
      await send("HeapProfiler.takeHeapSnapshot", 60_000);
      return mb(await send("Runtime.getHeapUsage"));
    },
    close: cdp.close,
  };
}

/** Resident memory (VmRSS, MB) of every workerd process in a process group. */
function workerdRss(pgid) {
  let kb = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (name !== "workerd" || Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) !== pgid) continue;
      kb += Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+)/m)[1]);
    } catch {}
  }
  return Math.round(kb / 1024);
}

/** The receiver: records each arrival; `/flaky/…` answers a tenth of first tries with a 500. */
async function receiver() {
  const arrivals = [];
  const failed = new Set();
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const id = req.headers["webhook-id"];
      if (req.url.startsWith("/flaky/") && !failed.has(`${req.url} ${id}`) && Math.random() < 0.1) {
        failed.add(`${req.url} ${id}`);
        res.statusCode = 500;
        return res.end("try again");
      }
      arrivals.push({ key: `${req.url} ${id}`, sentAt: JSON.parse(body).entity.sentAt, at: Date.now() });
      res.end("ok");
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { port: server.address().port, arrivals, retried: failed, close: () => server.closeAllConnections() };
}

const percentile = (sorted, p) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null;

// `--chart <results.json>`: draws the chart of an earlier run again, and nothing else.
const redraw = process.argv.indexOf("--chart");
if (redraw > 0) {
  const file = process.argv[redraw + 1];
  const earlier = JSON.parse(readFileSync(file, "utf8"));
  writeFileSync(file.replace(/\.json$/, ".svg"), chart(earlier.minutes, earlier.floor));
  process.exit(0);
}

// ---- setup -------------------------------------------------------------------------------------
freshState();
const keyhook = await startKeyhook(["--inspector-port", String(INSPECTOR)]);
const heap = await heapProbe(INSPECTOR);
const rx = await receiver();
const accounts = [];
console.log(`setting up ${ACCOUNTS} accounts × ${KEYS_PER_ACCOUNT} keys …`);
for (let a = 0; a < ACCOUNTS; a++) {
  const { account } = await api("POST", "/v1/accounts", { name: `Soak ${a}`, plan: "enterprise" });
  await api("PATCH", `/v1/accounts/${account.id}`, {
    limits: { rateLimitPerHour: 1_000_000, maxActiveKeys: 1_000_000 },
  });
  const as = { "x-account-id": account.id };
  const hooks = [];
  for (const path of ["/ok/", "/flaky/"]) {
    const { webhook } = await api(
      "POST",
      "/v1/webhooks",
      { url: `http://127.0.0.1:${rx.port}${path}${account.id}`, events: ["soak.tick"] },
      as,
    );
    hooks.push({ id: webhook.id, path: `${path}${account.id}` });
  }
  const keys = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < KEYS_PER_ACCOUNT) {
        const i = next++;
        const scopes = i === 0 ? ["events:write", "keys:verify"] : ["keys:read"];
        const made = await api("POST", "/v1/api-keys", { name: `pool ${i}`, scopes }, as);
        if (!made.key) throw new Error(`creating a pool key failed: ${JSON.stringify(made)}`);
        keys.push({ id: made.apiKey.id, key: made.key, publisher: i === 0 });
      }
    }),
  );
  const publisher = keys.find((k) => k.publisher);
  accounts.push({ id: account.id, as, hooks, publisher, pool: keys.filter((k) => !k.publisher) });
}
const pool = accounts.flatMap((a) => a.pool.map((k) => ({ ...k, account: a })));
console.log(`${pool.length} pool keys; soaking for ${MINUTES} minutes …`);

// ---- traffic -----------------------------------------------------------------------------------
const started = Date.now();
const minuteOf = (t) => Math.floor((t - started) / 60_000);
const minutes = Array.from({ length: MINUTES }, () => ({
  requests: 0,
  statuses: {},
  unexpected: {},
  latencies: [],
  rss: [],
  heap: [],
  byOp: {},
}));
const inFlight = new Set();
const expectedDeliveries = new Set();
const problems = [];

/** One request: recorded in the minute it was sent, with whether its status was the one expected. */
function call(op, method, path, { body, headers = {}, expect = [200] } = {}) {
  const t0 = Date.now();
  const p = fetch(KEYHOOK + path, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body && JSON.stringify(body),
  })
    .then(async (res) => {
      const text = await res.text().catch((e) => `(body not read: ${e})`);
      try {
        return { status: res.status, json: JSON.parse(text) };
      } catch {
        return { status: res.status, json: null, text: text.slice(0, 300) };
      }
    })
    .catch((e) => ({ status: 0, json: { error: String(e) } }))
    .then((r) => {
      const m = minutes[minuteOf(t0)];
      if (m) {
        m.requests++;
        m.latencies.push(Date.now() - t0);
        m.byOp[op] = m.byOp[op] ?? [];
        m.byOp[op].push(Date.now() - t0);
        if (r.status < 200 || r.status > 299) m.statuses[r.status] = (m.statuses[r.status] ?? 0) + 1;
        // Every answer is JSON: one that is not (a cut body) is a failure whatever its status.
        const what = r.json === null ? `${r.status} (not JSON)` : String(r.status);
        if (!expect.includes(r.status) || r.json === null) {
          m.unexpected[`${op} ${what}`] = (m.unexpected[`${op} ${what}`] ?? 0) + 1;
          if (problems.length < 20) problems.push({ op, status: what, body: r.json ?? r.text });
        }
      }
      return r;
    });
  inFlight.add(p);
  p.finally(() => inFlight.delete(p));
  return p;
}

let invalidVerdicts = 0;
const pick = (list) => list[Math.floor(Math.random() * list.length)];
const admin = (a) => ({ ...adminHeaders(), ...a.as });

function authRequest() {
  const k = pick(pool);
  if (Math.random() < 0.5) return call("whoami", "GET", "/v1/whoami", { headers: { "x-api-key": k.key } });
  return call("verify", "POST", "/v1/keys/verify", {
    headers: { "x-api-key": k.account.publisher.key },
    body: { key: k.key, scopes: ["keys:read"] },
  }).then((r) => {
    if (r.status === 200 && r.json && r.json.valid !== true) {
      invalidVerdicts++;
      if (problems.length < 20) problems.push({ op: "verify", verdict: r.json });
    }
  });
}

async function publishEvent() {
  const a = pick(accounts);
  const r = await call("publish", "POST", "/v1/events", {
    headers: { "x-api-key": a.publisher.key },
    body: { type: "soak.tick", entity: { sentAt: Date.now() } },
    expect: [202],
  });
  if (r.status === 202 && r.json) for (const h of a.hooks) expectedDeliveries.add(`${h.path} ${r.json.event.id}`);
}

let client = 0;
async function keyLifecycle() {
  const a = pick(accounts);
  const h = admin(a);
  // Each lifecycle is another client: its deliberate 401s must not trip the failed-authentication
  // limit of the one address every other request here comes from (`AUTH_FAILURE_LIMIT` per IP).
  client++;
  const ip = { "cf-connecting-ip": `10.${(client >> 16) & 255}.${(client >> 8) & 255}.${client & 255}` };
  const made = await call("key create", "POST", "/v1/api-keys", {
    headers: h,
    body: { name: "churn", scopes: ["keys:read"] },
    expect: [201],
  });
  if (made.status !== 201 || !made.json) return;
  const { apiKey, key } = made.json;
  await call("whoami", "GET", "/v1/whoami", { headers: { "x-api-key": key, ...ip } });
  const rotated = await call("key rotate", "POST", `/v1/api-keys/${apiKey.id}/rotate`, {
    headers: h,
    body: { gracePeriodSeconds: 0 },
  });
  if (rotated.status !== 200 || !rotated.json) return;
  await call("whoami", "GET", "/v1/whoami", { headers: { "x-api-key": rotated.json.key, ...ip } });
  await call("whoami (rotated out)", "GET", "/v1/whoami", { headers: { "x-api-key": key, ...ip }, expect: [401] });
  await call("key revoke", "DELETE", `/v1/api-keys/${apiKey.id}`, { headers: h });
  await call("whoami (revoked)", "GET", "/v1/whoami", {
    headers: { "x-api-key": rotated.json.key, ...ip },
    expect: [401],
  });
}

let adminTurn = 0;
function adminList() {
  const a = pick(accounts);
  const h = admin(a);
  const lists = [
    () => call("list keys", "GET", "/v1/api-keys?limit=100", { headers: h }),
    () => call("audit log", "GET", "/v1/audit-log?limit=50", { headers: h }),
    () => call("attempts", "GET", `/v1/webhooks/${a.hooks[1].id}/attempts`, { headers: h }),
    () =>
      call(
        "key usage",
        "GET",
        `/v1/api-key-usage?ids=${a.pool
          .slice(0, 100)
          .map((k) => k.id)
          .join(",")}`,
        {
          headers: h,
        },
      ),
    () => call("list webhooks", "GET", "/v1/webhooks", { headers: h }),
  ];
  return lists[adminTurn++ % lists.length]();
}

/** Calls `fn` `perSecond` times a second on a clock (open loop) until the soak ends. */
async function every(perSecond, fn) {
  const end = started + MINUTES * 60_000;
  for (let i = 0; ; i++) {
    const due = started + (i * 1000) / perSecond;
    if (due >= end) return;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    fn();
  }
}

const sampler = setInterval(async () => {
  const m = minutes[minuteOf(Date.now())];
  if (!m) return;
  m.rss.push(workerdRss(keyhook.pid));
  const used = await heap.read();
  if (used !== null) m.heap.push(used);
}, 3000);
const progress = setInterval(() => {
  const i = minuteOf(Date.now()) - 1;
  const m = minutes[i];
  if (m)
    console.log(
      `minute ${i + 1}: ${m.requests} requests, ${JSON.stringify(m.statuses)}, rss ${m.rss.at(-1)} MB, heap ≥ ${Math.min(...m.heap)} MB`,
    );
}, 60_000);

// The live heap after the warm-up (a full collection at the start of minute 3, whose stall falls
// in a minute that is not compared), and again at the end.
let liveAfterWarmup = null;
const warmed = setTimeout(async () => {
  liveAfterWarmup = await heap.live();
  console.log(`live heap after the warm-up: ${liveAfterWarmup} MB`);
}, 120_000);
await Promise.all([
  every(RATE, authRequest),
  every(PUBLISHES, publishEvent),
  every(CHURN, keyLifecycle),
  every(ADMIN, adminList),
]);
while (inFlight.size > 0) await Promise.race(inFlight);
clearInterval(sampler);
clearInterval(progress);

// Every delivery must arrive: the first retry of a flaky one comes about 5 s later.
const arrived = () => new Set(rx.arrivals.map((a) => a.key));
const deadline = Date.now() + 60_000;
while ([...expectedDeliveries].some((k) => !arrived().has(k)) && Date.now() < deadline) await sleep(500);
const got = arrived();
const lost = [...expectedDeliveries].filter((k) => !got.has(k)).length;
const duplicates = rx.arrivals.length - got.size;
rx.close();
clearTimeout(warmed);
const liveAtEnd = await heap.live();
heap.close();
stop(keyhook);
await sleep(2000);

// ---- the floor, same rate of authenticated requests, same keys ----------------------------------
const floorRows = [];
if (FLOOR_MINUTES > 0) {
  console.log(`the floor Worker for ${FLOOR_MINUTES} minutes at ${RATE} requests/s …`);
  const floor = start("node_modules/.bin/wrangler", [
    "dev",
    "-c",
    "bench/floor/wrangler.toml",
    "--port",
    "8796",
    "--persist-to",
    stateCopy("soak-floor"),
  ]);
  await up(FLOOR, floor);
  const floorStarted = Date.now();
  for (let i = 0; i < FLOOR_MINUTES; i++) floorRows.push({ minute: i + 1, requests: 0, failed: 0, rss: [] });
  const floorMinute = () => floorRows[Math.floor((Date.now() - floorStarted) / 60_000)];
  const floorSampler = setInterval(() => floorMinute()?.rss.push(workerdRss(floor.pid)), 3000);
  const sends = new Set();
  for (let i = 0; ; i++) {
    const due = floorStarted + (i * 1000) / RATE;
    if (due >= floorStarted + FLOOR_MINUTES * 60_000) break;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const row = floorMinute();
    const p = fetch(`${FLOOR}/v1/whoami`, { headers: { "x-api-key": pick(pool).key } })
      .then((r) => r.arrayBuffer().then(() => r.ok))
      .catch(() => false)
      .then((ok) => {
        row.requests++;
        if (!ok) row.failed++;
      });
    sends.add(p);
    p.finally(() => sends.delete(p));
  }
  await Promise.all(sends);
  clearInterval(floorSampler);
  stop(floor);
}
stopAll();

// ---- results -----------------------------------------------------------------------------------
const rows = minutes.map((m, i) => {
  const lat = m.latencies.sort((a, b) => a - b);
  const deliveries = rx.arrivals.filter((a) => minuteOf(a.at) === i);
  // Latency of deliveries answered on their first try; the retried ones wait out the 5 s schedule.
  const dl = deliveries
    .filter((a) => !rx.retried.has(a.key))
    .map((a) => a.at - a.sentAt)
    .sort((a, b) => a - b);
  return {
    minute: i + 1,
    requests: m.requests,
    perSecond: Math.round(m.requests / 60),
    non2xx: m.statuses,
    unexpected: m.unexpected,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    deliveries: deliveries.length,
    deliveryP50: percentile(dl, 50),
    deliveryP99: percentile(dl, 99),
    byOp: Object.fromEntries(
      Object.entries(m.byOp).map(([op, l]) => {
        const sorted = l.sort((a, b) => a - b);
        return [op, { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) }];
      }),
    ),
    rssMb: m.rss.length ? Math.max(...m.rss) : null,
    heapMb: m.heap.length ? Math.min(...m.heap) : null,
  };
});
const floor = floorRows.map((r) => ({
  minute: r.minute,
  perSecond: Math.round(r.requests / 60),
  failed: r.failed,
  rssMb: r.rss.length ? Math.max(...r.rss) : null,
}));
/** MB per minute from minute 2 to the last: the growth after the warm-up. */
const slope = (list) =>
  list.length > 2 ? +((list.at(-1).rssMb - list[1].rssMb) / (list.length - 2)).toFixed(1) : null;
const fivexx = rows.reduce(
  (n, r) =>
    n +
    Object.entries(r.non2xx)
      .filter(([s]) => Number(s) >= 500 || Number(s) === 0)
      .reduce((a, [, c]) => a + c, 0),
  0,
);
const unexpected =
  invalidVerdicts + rows.reduce((n, r) => n + Object.values(r.unexpected).reduce((a, c) => a + c, 0), 0);
const second = rows[1];
const last = rows.at(-1);
const checks = {
  no5xx: fivexx === 0,
  noUnexpectedAnswer: unexpected === 0,
  noLostDelivery: lost === 0,
  heapFlat: liveAfterWarmup !== null && liveAtEnd !== null && liveAtEnd <= liveAfterWarmup * 1.15 + 1,
  p99Steady: last.p99 <= second.p99 * 1.5,
};
const result = {
  command: `npm run soak -- --minutes ${MINUTES} --rate ${RATE}`,
  date: new Date().toISOString(),
  shape: {
    accounts: ACCOUNTS,
    poolKeys: pool.length,
    authPerSecond: RATE,
    publishesPerSecond: PUBLISHES,
    webhooksPerAccount: 2,
    keyLifecyclesPerSecond: CHURN,
    adminListsPerSecond: ADMIN,
  },
  minutes: rows,
  totals: {
    requests: rows.reduce((n, r) => n + r.requests, 0),
    fivexx,
    unexpected,
    expectedDeliveries: expectedDeliveries.size,
    delivered: got.size,
    lost,
    duplicates,
    firstTriesFailedOnPurpose: rx.retried.size,
    retriedDeliveryP50: percentile(
      rx.arrivals
        .filter((a) => rx.retried.has(a.key))
        .map((a) => a.at - a.sentAt)
        .sort((a, b) => a - b),
      50,
    ),
  },
  ratios: {
    lastOverSecondP99: +(last.p99 / second.p99).toFixed(2),
    liveHeapEndOverWarm: liveAfterWarmup && liveAtEnd ? +(liveAtEnd / liveAfterWarmup).toFixed(2) : null,
    lastOverSecondRss: +(last.rssMb / second.rssMb).toFixed(2),
  },
  liveHeapMb: { afterWarmup: liveAfterWarmup, atEnd: liveAtEnd },
  rssGrowthMbPerMinute: { keyhook: slope(rows), floor: slope(floor) },
  floor,
  checks,
  pass: Object.values(checks).every(Boolean),
  problems,
};

const day = new Date().toISOString().slice(0, 10);
writeFileSync(`bench/results/${day}-soak.json`, `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(`bench/results/${day}-soak.svg`, chart(rows, floor));
console.log(
  "\n| minute | requests/s | non-2xx | p50 ms | p99 ms | deliveries | delivery p50 / p99 ms | isolate heap MB | workerd RSS MB | floor: RSS MB |",
);
console.log("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  const non = Object.entries(r.non2xx)
    .map(([s, c]) => `${s}: ${c}`)
    .join(", ");
  console.log(
    `| ${r.minute} | ${r.perSecond} | ${non || "—"} | ${r.p50} | ${r.p99} | ${r.deliveries} | ${r.deliveryP50} / ${r.deliveryP99} | ${r.heapMb} | ${r.rssMb} | ${floor[r.minute - 1]?.rssMb ?? ""} |`,
  );
}
console.log(
  JSON.stringify(
    { totals: result.totals, ratios: result.ratios, rss: result.rssGrowthMbPerMinute, checks, pass: result.pass },
    null,
    2,
  ),
);
if (problems.length) console.log("problems:", JSON.stringify(problems.slice(0, 5)));
process.exit(result.pass ? 0 : 1);

/** Three panels against the minute: requests/s, latency p50/p99 (requests and deliveries), RSS. */
function chart(rows, floor) {
  for (const r of rows) r.floorRssMb = floor[r.minute - 1]?.rssMb ?? null;
  const W = 820;
  const left = 70;
  const plotW = 680;
  const panelH = 130;
  const x = (minute) => left + ((minute - 1) / Math.max(1, rows.length - 1)) * plotW;
  const panels = [
    { title: "requests/s", lines: [["perSecond", "#0b57d0"]] },
    {
      title: "latency, ms: request p50 / p99, delivery p99",
      lines: [
        ["p50", "#0b57d0"],
        ["p99", "#e8710a"],
        ["deliveryP99", "#188038"],
      ],
    },
    {
      title: "workerd resident memory, MB: Keyhook, and the floor Worker at the same request rate",
      lines: [
        ["rssMb", "#a142f4"],
        ["floorRssMb", "#777"],
      ],
    },
    { title: "Keyhook's isolate, JS heap in use, MB (smallest sample of the minute)", lines: [["heapMb", "#188038"]] },
  ];
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${panels.length * (panelH + 50) + 40}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="18" font-weight="bold">Soak: ${rows.length} minutes of mixed traffic under wrangler dev</text>`,
  ];
  panels.forEach((panel, i) => {
    const top = 40 + i * (panelH + 50);
    const values = panel.lines.flatMap(([k]) => rows.map((r) => r[k] ?? 0));
    const max = Math.max(1, ...values) * 1.1;
    const y = (v) => top + panelH - (v / max) * panelH;
    svg.push(
      `<text x="${left}" y="${top - 6}" font-weight="bold">${panel.title}</text>`,
      `<line x1="${left}" x2="${left + plotW}" y1="${top + panelH}" y2="${top + panelH}" stroke="#999"/>`,
      `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + panelH}" stroke="#999"/>`,
      `<text x="${left - 6}" y="${top + 4}" text-anchor="end">${Math.round(max)}</text>`,
      `<text x="${left - 6}" y="${top + panelH}" text-anchor="end">0</text>`,
    );
    panel.lines.forEach(([k, color], j) => {
      svg.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${rows
          .filter((r) => r[k] !== null && r[k] !== undefined)
          .map((r) => `${x(r.minute).toFixed(1)},${y(r[k]).toFixed(1)}`)
          .join(" ")}"/>`,
        `<text x="${left + plotW - 260 + j * 90}" y="${top + 14}" fill="${color}">${k}</text>`,
      );
    });
    for (const r of rows) {
      svg.push(`<text x="${x(r.minute)}" y="${top + panelH + 14}" text-anchor="middle">${r.minute}</text>`);
    }
  });
  svg.push("</svg>");
  return svg.join("\n");
}

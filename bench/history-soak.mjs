// `npm run soak:history [-- --minutes 8 --rate 10]`: the webhook history under a steady publish rate
// with the shortest hot window (HISTORY_HOT_HOURS=0: an event leaves D1 once every delivery of it
// is final), the cron run once a minute as Cloudflare would run it.
//
// Keyhook under `wrangler dev` on the bench's own state; two accounts with five webhooks each, to
// a receiver on loopback that answers 500 to the first try of one delivery in ten (so the retry
// path runs: WEBHOOK_RETRY_DELAYS=2,5). Every minute, after the cron: D1's bytes for the history
// tables (`dbstat` on the local file), the archive's objects and bytes, and the event log read over
// both (the newest page, and the run's first event by id, long since in R2). At the end it stops
// publishing, lets the last deliveries finish and the cron move them, then checks:
// - 0 lost deliveries: every (event, webhook) pair answered 2xx at least once at the receiver;
// - every published event once in each account's export, and a sample read back by id with its
//   five deliveries succeeded;
// - D1 bounded: at every minute from the second on, the events left in D1 after the cron are at
//   most one cron period's publishing (rate × 60 s), whatever the count published so far — a
//   history left in D1 passes that at minute 2. The bytes and the later half's mean over the earlier
//   half's are reported too: one sample holds what was in flight when the cron ran.
// Writes bench/results/<date>-history-soak.json and prints the table.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { d1Bytes, r2Bytes } from "./history-size.mjs";
import { adminHeaders, api, freshState, KEYHOOK, sleep, startKeyhook, stopAll } from "./lib.mjs";

const flag = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const MINUTES = flag("minutes", 8);
const RATE = flag("rate", 10); // events/s over both accounts
const ACCOUNTS = 2;
const WEBHOOKS = 5;
const WARM_MINUTE = 2;

/** A receiver per webhook path: 500 to the first try of one delivery in ten, then 200. */
function startReceiver() {
  const ok = new Map(); // `${path} ${event id}` → 2xx answers
  const tried = new Set();
  let failedFirst = 0;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const pair = `${req.url} ${JSON.parse(body).id}`;
      const first = !tried.has(pair);
      tried.add(pair);
      let hash = 0;
      for (const c of pair) hash = (hash * 31 + c.charCodeAt(0)) | 0;
      if (first && Math.abs(hash) % 10 === 0) {
        failedFirst++;
        res.statusCode = 500;
        return res.end("try again");
      }
      ok.set(pair, (ok.get(pair) ?? 0) + 1);
      res.end("ok");
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        base: `http://127.0.0.1:${server.address().port}`,
        ok,
        failedFirst: () => failedFirst,
        close: () => server.close(),
      }),
    ),
  );
}

const cron = () => fetch(`${KEYHOOK}/__scheduled?cron=*+*+*+*+*`).then((r) => r.text());
const historyBytes = (d) => d.history;

async function timed(fn) {
  const t = performance.now();
  const value = await fn();
  return { ms: Math.round(performance.now() - t), value };
}

async function main() {
  freshState();
  const receiver = await startReceiver();
  await startKeyhook(["--test-scheduled", "--var", "HISTORY_HOT_HOURS:0", "--var", "WEBHOOK_RETRY_DELAYS:2,5"]);
  const accounts = [];
  for (let a = 0; a < ACCOUNTS; a++) {
    const { account } = await api("POST", "/v1/accounts", { name: `Soak ${a}`, plan: "enterprise" });
    const as = { "x-account-id": account.id };
    const paths = [];
    for (let w = 0; w < WEBHOOKS; w++) {
      const path = `/a${a}/w${w}`;
      const r = await api("POST", "/v1/webhooks", { url: receiver.base + path, events: ["order.paid"] }, as);
      if (!r.webhook) throw new Error(JSON.stringify(r));
      paths.push(path);
    }
    accounts.push({ id: account.id, as, paths, published: [] });
  }

  // Publish at a steady rate: one tick every 100 ms, RATE/10 events a tick, round-robin over accounts.
  let n = 0;
  let publishErrors = 0;
  const inFlight = new Set();
  const tick = setInterval(() => {
    for (let i = 0; i < RATE / 10; i++) {
      const account = accounts[n % ACCOUNTS];
      const entity = { id: `ord_${n}`, customer: "cus_123", lines: "x".repeat(900), n };
      n++;
      const p = api("POST", "/v1/events", { type: "order.paid", entity }, account.as)
        .then((r) => (r.event ? account.published.push(r.event.id) : publishErrors++))
        .catch(() => publishErrors++)
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
  }, 100);

  const minutes = [];
  const start = performance.now();
  for (let m = 1; m <= MINUTES; m++) {
    await sleep(Math.max(0, start + m * 60_000 - performance.now()));
    const run = await timed(cron);
    const d1 = d1Bytes();
    const r2 = r2Bytes();
    const acc = accounts[0];
    const newest = await timed(() => api("GET", "/v1/events?limit=50", undefined, acc.as));
    const oldest = await timed(() => api("GET", `/v1/events/${acc.published[0]}`, undefined, acc.as));
    const row = {
      minute: m,
      published: accounts.reduce((s, a) => s + a.published.length, 0),
      cronMs: run.ms,
      d1HistoryBytes: historyBytes(d1),
      d1HistoryObjectsBytes: d1.historyObjects,
      d1TotalBytes: d1.total,
      d1Rows: d1.counts,
      r2Objects: r2.objects,
      r2Bytes: r2.bytes,
      logNewestMs: newest.ms,
      logNewestCount: newest.value.events?.length ?? null,
      firstEventByIdMs: oldest.ms,
      firstEventFound: oldest.value.event?.id === acc.published[0],
    };
    minutes.push(row);
    console.log(JSON.stringify(row));
  }
  clearInterval(tick);
  await Promise.all(inFlight);
  const publishedAll = accounts.flatMap((a) => a.published);

  // Drain: the last retries finish and the cron moves what is final, until D1 holds no event.
  const pairs = accounts.flatMap((a) => a.published.flatMap((id) => a.paths.map((p) => `${p} ${id}`)));
  const drainStart = performance.now();
  for (let i = 0; i < 60; i++) {
    await sleep(3000);
    await cron();
    if (d1Bytes().counts.events === 0 && pairs.every((p) => receiver.ok.has(p))) break;
  }
  const drainSeconds = Math.round((performance.now() - drainStart) / 1000);
  const end = { d1: d1Bytes(), r2: r2Bytes() };

  const lost = pairs.filter((p) => !receiver.ok.has(p));
  const duplicates = [...receiver.ok.values()].filter((c) => c > 1).length;
  const exports = [];
  for (const a of accounts) {
    const res = await fetch(`${KEYHOOK}/v1/events/export`, {
      headers: { ...adminHeaders(), ...a.as },
    });
    const ids = (await res.text())
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l).id);
    const expected = new Set(a.published);
    exports.push({
      account: a.id,
      published: a.published.length,
      exported: ids.length,
      distinct: new Set(ids).size,
      missing: a.published.filter((id) => !ids.includes(id)).length,
      extra: ids.filter((id) => !expected.has(id)).length,
    });
  }
  const sample = Array.from({ length: 20 }, (_, i) => publishedAll[Math.floor((i * publishedAll.length) / 20)]);
  let sampleOk = 0;
  for (const id of sample) {
    const a = accounts.find((x) => x.published.includes(id));
    const { event } = await api("GET", `/v1/events/${id}`, undefined, a.as);
    if (event?.deliveries.length === WEBHOOKS && event.deliveries.every((d) => d.status === "succeeded")) sampleOk++;
  }

  const after = minutes.filter((m) => m.minute >= WARM_MINUTE).map((m) => m.d1HistoryBytes);
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const half = Math.floor(after.length / 2);
  const growth = mean(after.slice(half)) / mean(after.slice(0, Math.max(1, half)));
  const checks = {
    lostDeliveries: lost.length,
    publishErrors,
    exportsComplete: exports.every((e) => e.missing === 0 && e.extra === 0 && e.distinct === e.exported),
    sampleReadBack: `${sampleOk}/${sample.length}`,
    firstEventFoundEveryMinute: minutes.every((m) => m.firstEventFound),
    d1BoundedByOneMinute: minutes.filter((m) => m.minute >= WARM_MINUTE).every((m) => m.d1Rows.events <= RATE * 60),
    d1MaxEventsAfterWarmUp: Math.max(...minutes.filter((m) => m.minute >= WARM_MINUTE).map((m) => m.d1Rows.events)),
    d1LaterHalfOverEarlierHalf: +growth.toFixed(2),
    d1MaxAfterWarmUpBytes: Math.max(...after),
  };
  const results = {
    date: new Date().toISOString(),
    command: `npm run soak:history -- --minutes ${MINUTES} --rate ${RATE}`,
    rate: RATE,
    accounts: ACCOUNTS,
    webhooksPerAccount: WEBHOOKS,
    published: publishedAll.length,
    firstTriesFailedOnPurpose: receiver.failedFirst(),
    deliveriesReceivedMoreThanOnce: duplicates,
    drainSeconds,
    minutes,
    end: {
      d1HistoryBytes: historyBytes(end.d1),
      d1Rows: end.d1.counts,
      d1HistoryObjectsBytes: end.d1.historyObjects,
      r2Objects: end.r2.objects,
      r2Bytes: end.r2.bytes,
    },
    exports,
    checks,
  };
  console.table(
    minutes.map((m) => ({
      minute: m.minute,
      published: m.published,
      "D1 history KB": Math.round(m.d1HistoryBytes / 1024),
      "D1 events": m.d1Rows.events,
      "R2 objects": m.r2Objects,
      "R2 KB": Math.round(m.r2Bytes / 1024),
      "cron ms": m.cronMs,
      "log page ms": m.logNewestMs,
      "first event ms": m.firstEventByIdMs,
    })),
  );
  console.log(JSON.stringify({ end: results.end, exports, checks }, null, 2));
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(
    `bench/results/${results.date.slice(0, 10)}-history-soak.json`,
    `${JSON.stringify(results, null, 2)}\n`,
  );
  receiver.close();
  stopAll();
  const pass =
    checks.lostDeliveries === 0 &&
    checks.publishErrors === 0 &&
    checks.exportsComplete &&
    sampleOk === sample.length &&
    checks.firstEventFoundEveryMinute &&
    checks.d1BoundedByOneMinute;
  console.log(pass ? "PASS" : "FAIL");
  process.exit(pass ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  stopAll();
  process.exit(1);
});

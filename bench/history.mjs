// `npm run bench:history`: what the webhook history costs D1 — rows written from publish to archive
// and bytes while hot — and how fast the archiver moves it beside the publish rate, on this machine.
//
// Keyhook under `wrangler dev` on its own state (HISTORY_HOT_HOURS=0, the cron run by hand,
// COUNT_OPS=true), a receiver on loopback answering 200, one account with five webhooks. It
// publishes HISTORY_EVENTS (default 2,000) events of a 1 KB entity, 8 at a time, and waits until
// every delivery is final; then reads D1's bytes from the local SQLite file (`dbstat`, pages in
// use), runs the cron until D1 holds no event, and reads them again with the archive's size. The
// D1 rows written are Keyhook's own counts (its `ops` log lines), summed over every invocation
// from the first publish to the last cron run. HISTORY_ENTITY=varied publishes entities of varied
// text (names, ids, numbers) instead of one long repeated string: what compresses less. Writes
// bench/results/<date>-history[-varied].json.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { d1Bytes, r2Bytes } from "./history-size.mjs";
import { api, freshState, KEYHOOK, sleep, startKeyhook, stopAll } from "./lib.mjs";

const EVENTS = Number(process.env.HISTORY_EVENTS ?? 2000);
const VARIED = process.env.HISTORY_ENTITY === "varied";
const WEBHOOKS = 5;
const CONCURRENCY = 8;

async function main() {
  freshState();
  const receiver = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end("ok"));
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${receiver.address().port}/hook`;
  const keyhook = await startKeyhook(["--test-scheduled", "--var", "HISTORY_HOT_HOURS:0", "--var", "COUNT_OPS:true"]);
  const { account } = await api("POST", "/v1/accounts", { name: "History bench", plan: "enterprise" });
  const as = { "x-account-id": account.id };
  for (let i = 0; i < WEBHOOKS; i++) await api("POST", "/v1/webhooks", { url, events: ["order.paid"] }, as);
  const baseline = d1Bytes();

  // Publish: 1 KB entities, 8 in flight.
  const entity = VARIED ? variedEntity : (n) => ({ id: `ord_${n}`, customer: "cus_123", lines: "x".repeat(900), n });
  const opsFrom = keyhook.log().length;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < EVENTS) {
        const n = next++;
        const r = await api("POST", "/v1/events", { type: "order.paid", entity: entity(n) }, as);
        if (!r.event) throw new Error(JSON.stringify(r));
      }
    }),
  );
  const publishSeconds = (performance.now() - t0) / 1000;
  // Every delivery final (the first attempts were sent by the publishing requests).
  // (A status filter answers short pages past its scan bound: follow the cursor to the end.)
  const pendingCount = async () => {
    let n = 0;
    let cursor = null;
    do {
      const q = `status=pending&limit=100${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await api("GET", `/v1/events?${q}`, undefined, as);
      n += page.events.length;
      cursor = page.nextCursor;
    } while (cursor);
    return n;
  };
  for (let i = 0; i < 240 && (await pendingCount()) > 0; i++) await sleep(500);
  const hot = d1Bytes();
  console.log("hot rows:", JSON.stringify({ row: hot.row, pages: hot.pages, rowsPerPage: hot.rowsPerPage }));

  // The archiver: the cron, run by hand until D1 holds no event.
  const runs = [];
  const a0 = performance.now();
  for (let i = 0; i < 100 && d1Bytes().counts.events > 0; i++) {
    const s = performance.now();
    await fetch(`${KEYHOOK}/__scheduled?cron=*+*+*+*+*`);
    runs.push(Math.round(performance.now() - s));
  }
  const archiveSeconds = (performance.now() - a0) / 1000;
  const cold = d1Bytes();
  // Keyhook's own counts: every invocation from the first publish to the last cron run.
  await sleep(1000); // the last invocation's line (its waitUntil settled)
  const ops = keyhook
    .log()
    .slice(opsFrom)
    .split("\n")
    .filter((l) => l.startsWith('{"msg":"ops"'))
    .map((l) => JSON.parse(l));
  const written = (pick) => ops.filter(pick).reduce((n, l) => n + l.d1RowsWritten, 0);
  const deliveries = EVENTS * WEBHOOKS;
  const rows = {
    publishAndFirstAttempts: written((l) => l.path === "/v1/events"),
    archive: written((l) => l.kind === "scheduled"),
    other: written((l) => l.path !== "/v1/events" && l.kind !== "scheduled"),
  };
  const r2 = r2Bytes();
  // The event log still reads every event (from R2 now).
  let listed = 0;
  let cursor = null;
  do {
    const page = await api("GET", `/v1/events?limit=100${cursor ? `&cursor=${cursor}` : ""}`, undefined, as);
    listed += page.events.length;
    cursor = page.nextCursor;
  } while (cursor);

  const hotPerEvent = (hot.history - baseline.history) / EVENTS;
  const coldPerEvent = (cold.history + cold.historyObjects - (baseline.history + baseline.historyObjects)) / EVENTS;
  const window = 72 * 3600;
  const results = {
    date: new Date().toISOString(),
    command: "npm run bench:history",
    events: EVENTS,
    webhooksPerEvent: WEBHOOKS,
    entityBytes: JSON.stringify(entity(0)).length,
    publish: { seconds: +publishSeconds.toFixed(1), perSecond: +(EVENTS / publishSeconds).toFixed(1) },
    archive: {
      seconds: +archiveSeconds.toFixed(1),
      perSecond: +(EVENTS / archiveSeconds).toFixed(1),
      cronRunsMs: runs,
      besidePublish: +(EVENTS / archiveSeconds / (EVENTS / publishSeconds)).toFixed(2),
    },
    entity: VARIED ? "varied" : "repeated",
    rowsWritten: {
      ...rows,
      perDeliveredWebhook: {
        publishAndFirstAttempts: +(rows.publishAndFirstAttempts / deliveries).toFixed(2),
        archive: +(rows.archive / deliveries).toFixed(2),
        fromPublishToArchive: +((rows.publishAndFirstAttempts + rows.archive + rows.other) / deliveries).toFixed(2),
      },
    },
    d1: {
      baseline,
      hot,
      archived: cold,
      bytesPerEventHot: Math.round(hotPerEvent),
      packedWhenFinal: hot.counts.packed,
      bytesPerEventAfterArchive: +coldPerEvent.toFixed(1),
    },
    r2: { ...r2, bytesPerEvent: Math.round(r2.bytes / EVENTS) },
    listedAfterArchive: listed,
    sizeModel: Object.fromEntries(
      [10, 100].map((rate) => [
        `${rate}/s`,
        {
          d1GBWith72hWindow: +((rate * window * hotPerEvent) / 1e9).toFixed(2),
          r2GBPer30Days: +((rate * 30 * 86400 * (r2.bytes / EVENTS)) / 1e9).toFixed(1),
          d1GBPerMonthBefore: +((rate * 30 * 86400 * hotPerEvent) / 1e9).toFixed(1),
          // The longest hot window one 10 GB D1 database holds at this rate.
          maxHotHoursIn10GB: +(10e9 / (rate * 3600 * hotPerEvent)).toFixed(1),
        },
      ]),
    ),
  };
  console.log(JSON.stringify(results, null, 2));
  mkdirSync("bench/results", { recursive: true });
  const file = `bench/results/${results.date.slice(0, 10)}-history${VARIED ? "-varied" : ""}.json`;
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  receiver.close();
  stopAll();
  if (listed !== EVENTS) {
    console.error(`the event log listed ${listed} of ${EVENTS} events after the archive`);
    process.exit(1);
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  stopAll();
  process.exit(1);
});

/** About 1 KB of the kind of JSON a SaaS publishes: names, ids, amounts, a short list (compresses ~2x). */
function variedEntity(n) {
  const r = (k) =>
    Math.random()
      .toString(36)
      .slice(2, 2 + k);
  return {
    id: `ord_${r(14)}`,
    n,
    customer: { id: `cus_${r(14)}`, email: `${r(8)}@${r(6)}.example`, name: `${r(6)} ${r(9)}`, tier: "gold" },
    currency: "eur",
    amount: Math.floor(Math.random() * 100000),
    lines: Array.from({ length: 5 }, () => ({
      sku: `sku_${r(10)}`,
      quantity: 1 + Math.floor(Math.random() * 5),
      price: Math.floor(Math.random() * 9000),
      description: `${r(12)} ${r(10)} ${r(8)}`,
    })),
    shipping: { street: `${r(10)} ${Math.floor(Math.random() * 200)}`, city: r(9), postcode: r(5), country: "DE" },
    createdAt: new Date().toISOString(),
  };
}

#!/usr/bin/env node
// `npm run bench:cost [results.json]`: prices a million verified requests (steady and at the worst
// usage pattern) and a million delivered webhooks from publish to archive, and a retry, at
// Cloudflare's list prices: from the operations `npm run bench` counted, the rows and objects
// `npm run bench:history` counted from publish to the archive, the rate counter's KV bound
// (`KV_OPS_PER_HIT`, held by test/ratelimit-budget.test.ts) and the CPU `npm run bench:profile`
// measured. Prints the markdown tables docs/COST.md is made of.
import { readdirSync, readFileSync } from "node:fs";

/** Workers Paid list prices beyond the included amounts, USD per unit (sources in docs/COST.md). */
export const PRICES = {
  workerRequest: 0.3 / 1e6,
  cpuMs: 0.02 / 1e6,
  d1RowRead: 0.001 / 1e6,
  d1RowWritten: 1.0 / 1e6,
  kvRead: 0.5 / 1e6,
  kvWriteListDelete: 5.0 / 1e6,
  queueOperation: 0.4 / 1e6,
  r2ClassA: 4.5 / 1e6,
};

/** The newest results file whose name matches `pattern`. */
const latest = (pattern) =>
  `bench/results/${readdirSync("bench/results")
    .filter((f) => pattern.test(f))
    .sort()
    .at(-1)}`;
const results = JSON.parse(readFileSync(process.argv[2] ?? latest(/^\d{4}-\d{2}-\d{2}\.json$/), "utf8"));
const profile = JSON.parse(readFileSync(latest(/-profile\.json$/), "utf8"));
const history = JSON.parse(readFileSync(latest(/^\d{4}-\d{2}-\d{2}-history\.json$/), "utf8"));
/** The rate counter's KV writes and lists per counted request, at most, whatever the pattern. */
const kvBound = Number(
  /export const KV_OPS_PER_HIT = ([\d.]+);/.exec(readFileSync("src/features/ratelimit/sharded-counter.ts", "utf8"))[1],
);
const ops = results.operations;
if (!ops) throw new Error("no operation counts in the results: run `npm run bench` (with the ops phase) first");

const money = (usd) => (usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`);
function lines(items) {
  const rows = items
    .filter(([, count]) => count > 0)
    .map(([what, count, unit, price]) => [what, count, unit, price * count * 1e6]);
  const total = rows.reduce((s, r) => s + r[3], 0);
  return [
    "| per million | count per unit | list price | cost |",
    "|---|---|---|---|",
    ...rows.map(([what, count, unit, usd]) => `| ${what} | ${count} | ${unit} | ${money(usd)} |`),
    `| **total** | | | **${money(total)}** |`,
  ].join("\n");
}

const cpuRequest = profile.profile.workerBusyMsPerUnit;
const v = ops.whoami;
console.log(`### A million key-verified requests (GET /v1/whoami, steady state)\n`);
console.log(
  lines([
    ["Worker requests", 1, "$0.30 / M", PRICES.workerRequest],
    [`Worker CPU (ms, upper bound: measured locally under the profiler)`, cpuRequest, "$0.02 / M ms", PRICES.cpuMs],
    ["D1 rows read", v.d1RowsRead, "$0.001 / M", PRICES.d1RowRead],
    ["D1 rows written (lastUsedAt)", v.d1RowsWritten, "$1.00 / M", PRICES.d1RowWritten],
    ["KV reads", v.kvReads, "$0.50 / M", PRICES.kvRead],
    ["KV writes + lists (rate counter)", +(v.kvWrites + v.kvLists).toFixed(2), "$5.00 / M", PRICES.kvWriteListDelete],
  ]),
);
console.log(`\n### At the worst usage pattern (every key used about once a minute)\n`);
console.log(
  lines([
    ["Worker requests", 1, "$0.30 / M", PRICES.workerRequest],
    [`Worker CPU (ms, as above)`, cpuRequest, "$0.02 / M ms", PRICES.cpuMs],
    ["D1 rows read (every check a miss of the edge tier: the key and its account)", 2, "$0.001 / M", PRICES.d1RowRead],
    ["D1 rows written (lastUsedAt, at most once a minute per key)", 1, "$1.00 / M", PRICES.d1RowWritten],
    [`KV writes + lists (rate counter, its bound at any pattern)`, kvBound, "$5.00 / M", PRICES.kvWriteListDelete],
  ]),
);

const p = ops.publishPerEvent;
const a = ops.firstAttemptsPerDelivery;
const r = ops.consumerPerRetriedDelivery;
const fanOut = p.webhooksPerEvent ?? 5;
const cpuDelivery = profile.pipelineProfile.workerBusyMsPerUnit;
const written = history.rowsWritten.perDeliveredWebhook;
const putsPerDelivery = history.r2.objects / (history.events * history.webhooksPerEvent);
console.log(
  `\n### A million delivered webhooks, from publish to archive (events fanned out to ${fanOut} webhooks each, as in the bench)\n`,
);
console.log(
  lines([
    [
      `Worker requests (the publish call, 1 per ${fanOut} deliveries)`,
      +(1 / fanOut).toFixed(2),
      "$0.30 / M",
      PRICES.workerRequest,
    ],
    [`Worker CPU (ms, publish + first attempt, upper bound as above)`, cpuDelivery, "$0.02 / M ms", PRICES.cpuMs],
    ["D1 rows read", +(p.d1RowsRead / fanOut + a.d1RowsRead).toFixed(2), "$0.001 / M", PRICES.d1RowRead],
    [
      "D1 rows written: the publish and first attempts (the event's row, written final)",
      written.publishAndFirstAttempts,
      "$1.00 / M",
      PRICES.d1RowWritten,
    ],
    ["D1 rows written: the move to R2 (the row deleted)", written.archive, "$1.00 / M", PRICES.d1RowWritten],
    ["R2 PutObject (one object per account-hour)", +putsPerDelivery.toFixed(4), "$4.50 / M", PRICES.r2ClassA],
    [
      "Queue operations (none: the first attempt is sent by the publishing request)",
      +(3 * (p.queueSends / fanOut + a.queueSends)).toFixed(2),
      "$0.40 / M",
      PRICES.queueOperation,
    ],
    ["KV writes", +(p.kvWrites / fanOut + a.kvWrites).toFixed(2), "$5.00 / M", PRICES.kvWriteListDelete],
  ]),
);
console.log(`\n### Each retry (a delivery sent again by the queue consumer)\n`);
console.log(
  lines([
    ["D1 rows read", r.d1RowsRead, "$0.001 / M", PRICES.d1RowRead],
    [
      "D1 rows written (the claim and the outcome, in the event's row)",
      r.d1RowsWritten,
      "$1.00 / M",
      PRICES.d1RowWritten,
    ],
    ["Queue operations (write + read + delete of its message)", 3, "$0.40 / M", PRICES.queueOperation],
  ]),
);

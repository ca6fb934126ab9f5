// What a throttle costs a delivery (`npm run bench:pacer`): Keyhook delivering to throttled
// endpoints beside unthrottled ones in the same run, and the pacer floor — one send slot from the
// same Durable Object, nothing else — beside a no-op request. The throttle is 1,000 a second, far
// above what is offered, so it never holds a delivery back: what differs is the pacer's cost alone.
import { mkdirSync, writeFileSync } from "node:fs";
import { api, benchAccount, freshState, KEYHOOK, sleep, start, startKeyhook, stopAll, up } from "./lib.mjs";
import { openLoop, saturated, webhooks } from "./pipeline.mjs";

const FLOOR_PACER = "http://localhost:8794";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Webhooks per event: each event to 4 throttled endpoints takes 4 slots, from 4 pacers at once. */
const HOOKS = 4;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const round = (x) => Math.round(x * 100) / 100;

/** `n` requests one after another; their latencies (ms), sorted. */
async function timed(url, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

async function floorRun() {
  const floor = start("node_modules/.bin/wrangler", [
    "dev",
    "-c",
    "bench/floor-pacer/wrangler.toml",
    "--port",
    "8794",
    "--persist-to",
    ".wrangler/bench-floor-pacer",
  ]);
  await up(`${FLOOR_PACER}/noop`, floor);
  await timed(`${FLOOR_PACER}/noop`, 50);
  await timed(`${FLOOR_PACER}/take?w=warm&n=${HOOKS}`, 50);
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const noop = await timed(`${FLOOR_PACER}/noop`, 300);
    const take = await timed(`${FLOOR_PACER}/take?w=wh_${r}_&n=${HOOKS}`, 300);
    rounds.push({ noopP50: round(pct(noop, 50)), takeP50: round(pct(take, 50)), takeP99: round(pct(take, 99)) });
    console.log(JSON.stringify({ floor: rounds.at(-1) }));
  }
  process.kill(-floor.pid, "SIGTERM");
  const slotMs = median(rounds.map((x) => x.takeP50 - x.noopP50));
  return { rounds, slotMs: round(slotMs) };
}

async function keyhookRun() {
  const { account, key } = await benchAccount();
  const free = await webhooks(account.id, { count: HOOKS });
  const paced = await webhooks(account.id, { count: HOOKS });
  for (const id of paced.ids) {
    const { webhook } = await api("PATCH", `/v1/webhooks/${id}`, { throttle: 1000 }, { "x-account-id": account.id });
    if (webhook?.throttle !== 1000) throw new Error(`throttle not set on ${id}`);
  }
  // Warm both paths (isolates, the pacers' objects).
  await saturated(KEYHOOK, key, free, { events: 40, label: "warm-up, unthrottled" });
  await saturated(KEYHOOK, key, paced, { events: 40, label: "warm-up, throttled" });
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const row = {};
    for (const [name, setup] of [
      ["unthrottled", free],
      ["throttled", paced],
    ]) {
      setup.rx.arrivals.length = 0; // this round's arrivals only
      const sat = await saturated(KEYHOOK, key, setup, { events: 200, label: `${name}, saturated` });
      await sleep(1000);
      const open = await openLoop(KEYHOOK, key, setup, { rate: 40, seconds: 6 });
      await sleep(1000);
      row[name] = {
        deliveriesPerSecond: sat.deliveriesPerSecond,
        lost: sat.lost + open.lost,
        duplicates: sat.duplicates,
        p50At40: open.p50,
        p99At40: open.p99,
      };
    }
    rounds.push(row);
  }
  await free.close();
  await paced.close();
  const of = (name, field) => median(rounds.map((x) => x[name][field]));
  return {
    rounds,
    throughputRatio: round(of("throttled", "deliveriesPerSecond") / of("unthrottled", "deliveriesPerSecond")),
    addedP50Ms: of("throttled", "p50At40") - of("unthrottled", "p50At40"),
  };
}

freshState();
await startKeyhook();
try {
  const keyhook = await keyhookRun();
  const floor = await floorRun();
  const result = {
    date: new Date().toISOString(),
    command: "npm run bench:pacer",
    rounds: ROUNDS,
    floor,
    keyhook,
    // What the pacer adds to a delivery's latency in Keyhook, in floor slots (1 = the floor).
    addedOverFloor: floor.slotMs > 0 ? round(keyhook.addedP50Ms / floor.slotMs) : null,
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync("bench/results", { recursive: true });
  writeFileSync(`bench/results/${result.date.slice(0, 10)}-pacer.json`, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  stopAll();
}

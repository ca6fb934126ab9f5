#!/usr/bin/env node
// `npm run bench:decompose`: what whoami's distance to the floor is made of, at 32 connections.
// Keyhook /health against the bare floor's /ping (Hono, middleware and routing on a route with
// no I/O), and the floor again behind the same static-assets router Keyhook runs behind.
import { mkdirSync, writeFileSync } from "node:fs";
import autocannon from "autocannon";
import { benchAccount, FLOOR, freshState, KEYHOOK, startFloor, startKeyhook, stopAll } from "./lib.mjs";

const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
freshState();
await startKeyhook();
const { key } = await benchAccount();
const withKey = { headers: { "x-api-key": key } };
const rows = [];
async function run(scenario, target) {
  await autocannon({ ...target, duration: 2, connections: 32 }); // warm-up, excluded
  const r = await autocannon({ ...target, duration: DURATION, connections: 32 });
  rows.push({ scenario, requestsPerSecond: Math.round(r.requests.average), p99: r.latency.p99, non2xx: r.non2xx });
  console.log(JSON.stringify(rows.at(-1)));
}
let floor = await startFloor();
await run("Keyhook GET /health (no I/O)", { url: `${KEYHOOK}/health` });
await run("floor GET /ping (no I/O)", { url: `${FLOOR}/ping` });
await run("floor (hash + 1 D1 read)", { url: `${FLOOR}/`, ...withKey });
await run("Keyhook GET /v1/whoami", { url: `${KEYHOOK}/v1/whoami`, ...withKey });
floor = await startFloor(floor, "bench/floor/wrangler.assets.toml");
await run("floor behind the assets router: /ping", { url: `${FLOOR}/ping` });
await run("floor behind the assets router (hash + 1 D1 read)", { url: `${FLOOR}/`, ...withKey });
console.table(rows);
mkdirSync("bench/results", { recursive: true });
writeFileSync(
  `bench/results/${new Date().toISOString().slice(0, 10)}-decompose.json`,
  `${JSON.stringify({ date: new Date().toISOString(), command: "npm run bench:decompose", rows }, null, 2)}\n`,
);
stopAll();
process.exit(0);

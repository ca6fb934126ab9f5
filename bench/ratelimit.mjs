// What a named rate limit adds to a request (`npm run bench:ratelimit`): Keyhook's
// `POST /v2/ratelimit.limit` beside `GET /v1/whoami` with the same root key (the same
// authentication, no limit), and the floor — the same NamedLimiter Durable Object call from a bare
// Worker — beside a no-op request of that Worker, in one run. p50 and p99 of each, and what the
// limit adds: Keyhook's (limit − whoami) against the floor's (limit − noop).
import { mkdirSync, writeFileSync } from "node:fs";
import { api, benchAccount, freshState, KEYHOOK, start, startKeyhook, stopAll, up } from "./lib.mjs";

const FLOOR = "http://localhost:8797";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const N = Number(process.env.BENCH_REQUESTS ?? 300);
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const round = (x) => Math.round(x * 100) / 100;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** `n` requests one after another; their latencies (ms), sorted. */
async function timed(request, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const [url, init] = request(i);
    const t = performance.now();
    const res = await fetch(url, init);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

const stats = (xs) => ({ p50: round(pct(xs, 50)), p99: round(pct(xs, 99)) });

async function floorRun() {
  const floor = start("node_modules/.bin/wrangler", [
    "dev",
    "-c",
    "bench/floor-limiter/wrangler.toml",
    "--port",
    "8797",
    "--persist-to",
    ".wrangler/bench-floor-limiter",
  ]);
  await up(`${FLOOR}/noop`, floor);
  const noop = () => [`${FLOOR}/noop`];
  const limit = (i) => [`${FLOOR}/limit?id=user_${i % 50}`];
  await timed(noop, 50);
  await timed(limit, 50);
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    rounds.push({ noop: stats(await timed(noop, N)), limit: stats(await timed(limit, N)) });
    console.log(JSON.stringify({ floor: rounds.at(-1) }));
  }
  process.kill(-floor.pid, "SIGTERM");
  return rounds;
}

async function keyhookRun() {
  const { account } = await benchAccount();
  const { key } = await api(
    "POST",
    "/v1/api-keys",
    { name: "root", scopes: ["keys:verify", "keys:read"], rateLimitPerHour: 1_000_000 },
    { "x-account-id": account.id },
  );
  const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const whoami = () => [`${KEYHOOK}/v1/whoami`, { headers: auth }];
  const limit = (i) => [
    `${KEYHOOK}/v2/ratelimit.limit`,
    {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ namespace: "bench", identifier: `user_${i % 50}`, limit: 1_000_000, duration: 60_000 }),
    },
  ];
  await timed(whoami, 50);
  await timed(limit, 50);
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    rounds.push({ whoami: stats(await timed(whoami, N)), limit: stats(await timed(limit, N)) });
    console.log(JSON.stringify({ keyhook: rounds.at(-1) }));
  }
  return rounds;
}

try {
  freshState();
  await startKeyhook();
  const keyhook = await keyhookRun();
  const floor = await floorRun();
  const added = (rounds, base, p) => round(median(rounds.map((x) => x.limit[p] - x[base][p])));
  const result = {
    at: new Date().toISOString(),
    requests: N,
    rounds: ROUNDS,
    floor,
    keyhook,
    addedMs: {
      floor: { p50: added(floor, "noop", "p50"), p99: added(floor, "noop", "p99") },
      keyhook: { p50: added(keyhook, "whoami", "p50"), p99: added(keyhook, "whoami", "p99") },
    },
  };
  console.log(JSON.stringify(result.addedMs));
  mkdirSync("bench/results", { recursive: true });
  writeFileSync("bench/results/ratelimit.json", `${JSON.stringify(result, null, 2)}\n`);
} finally {
  stopAll();
}

import { describe, expect, it } from "vitest";
import { CounterIsolate, KV_OPS_PER_HIT, ShardedCounter } from "../src/features/ratelimit/sharded-counter";
import { countingEnv } from "./helpers/counting-env";

const HOUR = 3_600_000;

/** Two isolates (two locations) counting the same keys on one KV, a flush not waiting its second. */
function twoIsolates(namespace: string) {
  const { env: counted, counts } = countingEnv();
  const isolates = [0, 1].map(() => new CounterIsolate(new Map(), new Set(), () => Promise.resolve()));
  const counters = isolates.map((i) => new ShardedCounter(counted.RATE_LIMITS, namespace, 3600, 0, undefined, i));
  return { counters, counts };
}

/**
 * A simulated hour: `keys` keys, each used about every `everyMs` (± a fifth), each request at one
 * of the two isolates in turn, against `limit`. Answers the requests, those admitted per key, and
 * the KV writes and lists.
 */
async function hour(opts: {
  keys: number;
  everyMs: number;
  limit: number;
  limitOf?: (key: number) => number;
  seed?: number;
}) {
  const namespace = `wb${crypto.randomUUID().slice(0, 8)}`;
  const { counters, counts } = twoIsolates(namespace);
  const start = Math.floor(Date.now() / HOUR) * HOUR;
  // Every request of the hour, in time order.
  const requests: { at: number; key: number; isolate: number }[] = [];
  // A seeded generator (mulberry32): the same hour every run, so a bound is checked, not a draw.
  let seed = opts.seed ?? 34;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let k = 0; k < opts.keys; k++) {
    let at = start + random() * opts.everyMs;
    for (let n = 0; at < start + HOUR; n++) {
      requests.push({ at, key: k, isolate: (k + n) % 2 });
      at += opts.everyMs * (0.8 + random() * 0.4);
    }
  }
  requests.sort((a, b) => a.at - b.at);
  const admitted = new Array<number>(opts.keys).fill(0);
  let pending: Promise<unknown>[] = [];
  for (const r of requests) {
    const counter = counters[r.isolate] as ShardedCounter;
    const limit = opts.limitOf?.(r.key) ?? opts.limit;
    const hit = await counter.hit(`key${r.key}`, limit, Math.floor(r.at), (p) => pending.push(p));
    if (hit.allowed) admitted[r.key] = (admitted[r.key] ?? 0) + 1;
    if (pending.length > 50) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  return { requests: requests.length, admitted, ops: counts.kvWrites + counts.kvLists, counts };
}

describe("a verification's KV cost is bounded at every usage pattern", () => {
  it("the worst pattern — 200 keys, each used every ~15 s, across two isolates: ≤ 0.2 KV writes or lists a request", async () => {
    const run = await hour({ keys: 200, everyMs: 15_000, limit: 1_000 });
    expect(run.requests).toBeGreaterThan(200 * 200);
    const perRequest = run.ops / run.requests;
    console.log(`worst pattern: ${run.requests} requests, ${run.counts.kvWrites} writes, ${run.counts.kvLists} lists`);
    // The budget: 0.2 an operation a request, plus each isolate's first credit.
    expect(run.ops).toBeLessThanOrEqual(run.requests * KV_OPS_PER_HIT + 2 * 4);
    expect(perRequest).toBeLessThanOrEqual(0.2);
    // Under its limit every request is admitted.
    expect(run.admitted.every((n) => n > 200)).toBe(true);
  });

  it("keys used once an hour each: the same bound", async () => {
    const run = await hour({ keys: 2_000, everyMs: HOUR, limit: 1_000 });
    expect(run.ops).toBeLessThanOrEqual(run.requests * KV_OPS_PER_HIT + 2 * 4);
  });

  it("a key reaching its limit among many that do not: 150 an hour, ~240 asked, ≤ 150 + 10 admitted", async () => {
    const run = await hour({ keys: 200, everyMs: 15_000, limit: 10_000, limitOf: (k) => (k === 0 ? 150 : 10_000) });
    console.log(`one key at its limit: ${run.admitted[0]} admitted`);
    // Near its limit a key's reads and writes come first (the reserve): the other isolate's
    // requests since its last write, and this one's since its last read, are few.
    expect(run.admitted[0]).toBeGreaterThanOrEqual(150);
    expect(run.admitted[0]).toBeLessThanOrEqual(150 + 10);
    expect(run.ops).toBeLessThanOrEqual(run.requests * KV_OPS_PER_HIT + 2 * 4);
  });

  it("every key at its limit at once (50 keys, 150 an hour, ~240 asked): the bound when the budget is short", async () => {
    const run = await hour({ keys: 50, everyMs: 15_000, limit: 150 });
    const max = Math.max(...run.admitted);
    console.log(`every key at its limit: admitted per key max ${max}, min ${Math.min(...run.admitted)}`);
    // Each isolate admits on its own exact count and the other's as last read; with every key near
    // its limit at once the reserve is shared, and a key's read and write each come about every
    // tenth of its requests in an isolate (0.19 an operation a request, taken in turns): each
    // isolate may admit the other's unwritten and unread requests again: 213 measured (this seed),
    // the documented bound is half the limit again (docs/keys.md).
    for (const n of run.admitted) expect(n).toBeGreaterThanOrEqual(150);
    expect(max).toBeLessThanOrEqual(150 * 1.5);
    expect(run.ops).toBeLessThanOrEqual(run.requests * KV_OPS_PER_HIT + 2 * 4);
  });
});

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as oauth from "oauth4webapi";
import { beforeEach, describe, expect, it } from "vitest";
import { settleVerificationCounts } from "../src/features/analytics/counter";
import { REFRESH_MS, ShardedCounter, tracking } from "../src/features/ratelimit/sharded-counter";
import { createApp } from "../src/http/app";
import { ADMIN, accountWithKey, BASE, call, createAccount, createKey } from "./helpers/api";
import { countingEnv } from "./helpers/counting-env";
import { createClient, discover, tokensFor } from "./helpers/oauth";

const HOUR = 3_600_000;

// These tests are about what the counter does, not its KV budget (test/ratelimit-budget.test.ts):
// each starts with the isolate's credit banked.
beforeEach(() => tracking.fund());

describe("per-hour rate limits", () => {
  it("every key-authenticated answer carries the IETF and X-RateLimit headers", async () => {
    const { key } = await accountWithKey("pro", { rateLimitPerHour: 10 });
    const now = Date.now();
    const res = await call("GET", "/v1/whoami", { apiKey: key });
    const reset = Math.ceil((Math.floor(now / HOUR) * HOUR + HOUR) / 1000);
    expect(res.headers.get("ratelimit-policy")).toBe('"hour";q=10;w=3600');
    expect(res.headers.get("ratelimit")).toMatch(/^"hour";r=9;t=\d+$/);
    const t = Number(/t=(\d+)/.exec(res.headers.get("ratelimit")!)![1]);
    expect(Math.abs(t - (reset - now / 1000))).toBeLessThan(3);
    expect(res.headers.get("x-ratelimit-limit")).toBe("10");
    expect(res.headers.get("x-ratelimit-remaining")).toBe("9");
    expect(Number(res.headers.get("x-ratelimit-reset"))).toBe(reset);
    const second = await call("GET", "/v1/api-keys", { apiKey: key });
    expect(second.headers.get("x-ratelimit-remaining")).toBe("8");
  });

  it("the plan's default applies when the key sets none; the account override wins over the plan", async () => {
    const account = await createAccount("pro");
    const { key } = await createKey(account.id);
    expect((await call("GET", "/v1/whoami", { apiKey: key })).headers.get("x-ratelimit-limit")).toBe("100");
    await call("PATCH", `/v1/accounts/${account.id}`, { token: ADMIN, body: { limits: { rateLimitPerHour: 7 } } });
    expect((await call("GET", "/v1/whoami", { apiKey: key })).headers.get("x-ratelimit-limit")).toBe("7");
  });

  it("over the limit: 429 rate_limited with Retry-After to the end of the hour", async () => {
    const { key } = await accountWithKey("pro", { rateLimitPerHour: 3 });
    for (let i = 0; i < 3; i++) expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(200);
    const res = await call("GET", "/v1/whoami", { apiKey: key });
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe("rate_limited");
    const toReset = (Math.floor(Date.now() / HOUR) * HOUR + HOUR - Date.now()) / 1000;
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(Math.floor(toReset));
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil(toReset) + 5);
    expect(res.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(res.headers.get("ratelimit")).toMatch(/^"hour";r=0;t=\d+$/);
  });

  it("is exact under concurrency: 40 at once on a limit of 20 admit exactly 20", async () => {
    const { key } = await accountWithKey("pro", { rateLimitPerHour: 20 });
    const results = await Promise.all(Array.from({ length: 40 }, () => call("GET", "/v1/whoami", { apiKey: key })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(20);
    expect(results.filter((r) => r.status === 429)).toHaveLength(20);
    const remaining = results
      .filter((r) => r.status === 200)
      .map((r) => Number(r.headers.get("x-ratelimit-remaining")));
    expect(remaining.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("operator and user requests are not counted against any key", async () => {
    const res = await call("GET", "/v1/whoami", { token: ADMIN });
    expect(res.headers.get("ratelimit")).toBeNull();
  });
});

describe("the KV counter", () => {
  it("waits for the other shards' sum only the first time; later refreshes run in waitUntil", async () => {
    let lists = 0;
    let hang = false;
    const kv = {
      list: (options: KVNamespaceListOptions) => {
        lists += 1;
        return hang ? new Promise(() => {}) : env.RATE_LIMITS.list(options); // a KV that stops answering
      },
      put: () => Promise.resolve(),
    } as unknown as KVNamespace;
    const counter = new ShardedCounter(kv, "bg", 3600, 0);
    const id = `bg-${crypto.randomUUID()}`;
    const background: Promise<unknown>[] = [];
    const waitUntil = (p: Promise<unknown>) => background.push(p);
    // Early in the current hour, so both hits fall in one window.
    const now = counter.windowStart(Date.now()) + 1_000;
    expect((await counter.hit(id, 10, now, waitUntil)).allowed).toBe(true);
    expect(lists).toBe(1);
    hang = true;
    // Past the refresh interval: the list is started, but the request does not wait for it.
    const later = await Promise.race([
      counter.hit(id, 10, now + REFRESH_MS + 1, waitUntil),
      new Promise((r) => setTimeout(() => r("waited on the list"), 1_000)),
    ]);
    expect(later).toMatchObject({ allowed: true, remaining: 8 });
    expect(lists).toBe(2);
    expect(background.length).toBeGreaterThan(0);
  });

  it("writes only its own shard key, with the count in metadata and a TTL that lets it expire", async () => {
    const id = `t-${crypto.randomUUID()}`;
    const counter = new ShardedCounter(env.RATE_LIMITS, "ut", 3600, 48 * 3600);
    const now = Date.now();
    const ctx = createExecutionContext();
    for (let i = 0; i < 5; i++) await counter.hit(id, 100, now, (p) => ctx.waitUntil(p));
    await waitOnExecutionContext(ctx);
    await expect
      .poll(async () =>
        (await env.RATE_LIMITS.list<{ n: number }>({ prefix: `ut:${id}:` })).keys.map((k) => k.metadata?.n),
      )
      .toEqual([5]);
    const { keys } = await env.RATE_LIMITS.list<{ n: number }>({ prefix: `ut:${id}:` });
    expect(keys[0]!.name).toMatch(new RegExp(`^ut:${id}:${Math.floor(now / HOUR) * 3600}:[0-9A-Za-z]{12}$`));
    const hoursLeft = (keys[0]!.expiration! * 1000 - Date.now()) / HOUR;
    expect(hoursLeft).toBeGreaterThan(48);
    expect(hoursLeft).toBeLessThanOrEqual(49.01);
  });

  it("coalesces writes: a burst of increments makes at most one KV write per second", async () => {
    const { env: counted, counts } = countingEnv();
    const counter = new ShardedCounter(counted.RATE_LIMITS, "ut", 3600, 0);
    const id = `burst-${crypto.randomUUID()}`;
    const ctx = createExecutionContext();
    const started = Date.now();
    for (let i = 0; i < 200; i++) await counter.hit(id, 1000, Date.now(), (p) => ctx.waitUntil(p));
    await waitOnExecutionContext(ctx);
    const seconds = (Date.now() - started) / 1000;
    expect(counts.kvWrites).toBeGreaterThanOrEqual(1);
    expect(counts.kvWrites).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    const { keys } = await env.RATE_LIMITS.list<{ n: number }>({ prefix: `ut:${id}:` });
    expect(keys.map((k) => k.metadata?.n)).toEqual([200]);
  });

  it("sums the other writers' shards: a count from another isolate is honoured", async () => {
    const { key, apiKey } = await accountWithKey("pro", { rateLimitPerHour: 10 });
    const start = Math.floor(Date.now() / HOUR) * 3600;
    // Another isolate (another location) already counted 8 requests for this key this hour.
    await env.RATE_LIMITS.put(`rl:${apiKey.id}:${start}:OtherIsolate1`, "8", { metadata: { n: 8 } });
    const first = await call("GET", "/v1/whoami", { apiKey: key });
    expect(first.headers.get("x-ratelimit-remaining")).toBe("1");
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(200);
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(429);
  });

  it("stays bounded with more ids in one hour than it keeps, and an evicted id loses no count", async () => {
    const counter = new ShardedCounter(env.RATE_LIMITS, "ut", 3600, 0);
    const id = `kept-${crypto.randomUUID()}`;
    tracking.setMax(40);
    try {
      const ctx = createExecutionContext();
      for (let i = 0; i < 3; i++) await counter.hit(id, 100, Date.now(), (p) => ctx.waitUntil(p));
      await waitOnExecutionContext(ctx); // flushed: 3 in this isolate's shard key
      const others = createExecutionContext();
      for (let i = 0; i < 200; i++) {
        await counter.hit(`other-${i}-${crypto.randomUUID()}`, 100, Date.now(), (p) => others.waitUntil(p));
        expect(tracking.size()).toBeLessThanOrEqual(40 + 1);
      }
      await waitOnExecutionContext(others);
      expect(counter.knownTotal(id, Date.now())).toBeNull(); // evicted from memory …
      tracking.fund(); // (the 200 others' first reads spent the credit: test/ratelimit-budget.test.ts)
      const again = await counter.hit(id, 100, Date.now(), () => {});
      expect(again.remaining).toBe(100 - 4); // … and read back from KV: the 4th request of the hour
    } finally {
      tracking.setMax(20_000);
    }
  });

  it("a new hour starts from zero", async () => {
    const counter = new ShardedCounter(env.RATE_LIMITS, "ut", 3600, 0);
    const id = `hour-${crypto.randomUUID()}`;
    const now = Date.now();
    const noop = () => {};
    expect((await counter.hit(id, 1, now, noop)).allowed).toBe(true);
    expect((await counter.hit(id, 1, now, noop)).allowed).toBe(false);
    expect((await counter.hit(id, 1, now + HOUR, noop)).allowed).toBe(true);
  });
});

describe("usage history", () => {
  it("GET /v1/api-keys/:id/usage: 48 hourly counts, oldest first, this hour's exact", async () => {
    const { account, apiKey, key } = await accountWithKey();
    const hourStart = Math.floor(Date.now() / HOUR) * HOUR;
    await env.RATE_LIMITS.put(`rl:${apiKey.id}:${(hourStart - 3 * HOUR) / 1000}:Elsewhere0001`, "4", {
      metadata: { n: 4 },
    });
    for (let i = 0; i < 3; i++) await call("GET", "/v1/whoami", { apiKey: key });
    const res = await call("GET", `/v1/api-keys/${apiKey.id}/usage`, { token: ADMIN, accountId: account.id });
    expect(res.status).toBe(200);
    const { usage } = res.body as { usage: { hour: string; requests: number }[] };
    expect(usage).toHaveLength(48);
    expect(usage.at(-1)).toEqual({ hour: new Date(hourStart).toISOString(), requests: 3 });
    expect(usage.at(-4)).toEqual({ hour: new Date(hourStart - 3 * HOUR).toISOString(), requests: 4 });
    expect(usage[0]!.hour).toBe(new Date(hourStart - 47 * HOUR).toISOString());
    expect(usage.reduce((s, u) => s + u.requests, 0)).toBe(7);
  });

  it("GET /v1/api-key-usage?ids=…: a page of keys in one request; other accounts' and revoked ids left out", async () => {
    const { account, apiKey: first, key } = await accountWithKey();
    const { apiKey: second } = await createKey(account.id, { name: "second" });
    const { apiKey: revoked } = await createKey(account.id, { name: "gone" });
    await call("DELETE", `/v1/api-keys/${revoked.id}`, { token: ADMIN, accountId: account.id });
    const { apiKey: foreign } = await accountWithKey();
    for (let i = 0; i < 2; i++) await call("GET", "/v1/whoami", { apiKey: key });
    const ids = [first.id, second.id, revoked.id, foreign.id, "key_nope"].join(",");
    const res = await call("GET", `/v1/api-key-usage?ids=${ids}`, { token: ADMIN, accountId: account.id });
    expect(res.status).toBe(200);
    const byKey = Object.fromEntries(
      (res.body.keys as { keyId: string; usage: { requests: number }[] }[]).map((k) => [k.keyId, k.usage]),
    );
    expect(Object.keys(byKey).sort()).toEqual([first.id, second.id].sort());
    expect(byKey[first.id]).toHaveLength(48);
    expect(byKey[first.id]!.at(-1)!.requests).toBe(2);
    expect(byKey[second.id]!.reduce((s, u) => s + u.requests, 0)).toBe(0);
    // The most it takes, 100 ids (found by the soak: 100 ids and the account were 101 bound parameters).
    const hundred = [first.id, ...Array.from({ length: 99 }, (_, i) => `key_${i}`)].join(",");
    const full = await call("GET", `/v1/api-key-usage?ids=${hundred}`, { token: ADMIN, accountId: account.id });
    expect(full.status).toBe(200);
    expect(full.body.keys.map((k: { keyId: string }) => k.keyId)).toEqual([first.id]);
    const tooMany = Array.from({ length: 101 }, (_, i) => `key_${i}`).join(",");
    expect(
      (await call("GET", `/v1/api-key-usage?ids=${tooMany}`, { token: ADMIN, accountId: account.id })).status,
    ).toBe(400);
    expect((await call("GET", "/v1/api-key-usage?ids=", { token: ADMIN, accountId: account.id })).status).toBe(400);
  });
});

describe("failed authentication is limited per client IP", () => {
  it("after AUTH_FAILURE_LIMIT invalid credentials, even a valid one gets 429 from that IP", async () => {
    const { key } = await accountWithKey();
    const ip = { "cf-connecting-ip": "203.0.113.7" };
    for (let i = 0; i < 30; i++) {
      const res = await call("GET", "/v1/whoami", { token: `wrong-${i}`, headers: ip });
      expect(res.status).toBe(401);
    }
    const blocked = await call("GET", "/v1/whoami", { apiKey: key, headers: ip });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe("rate_limited");
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    const otherIp = await call("GET", "/v1/whoami", { apiKey: key, headers: { "cf-connecting-ip": "203.0.113.8" } });
    expect(otherIp.status).toBe(200);
  });
});

describe("operations on the hot path", () => {
  it("steady state: a warm key costs no D1 query and no KV read; with EDGE_CACHE=off, one D1 read", async () => {
    const { key } = await accountWithKey();
    const app = createApp();
    const { env: counted, counts, reset } = countingEnv();
    const request = () => new Request(`${BASE}/v1/whoami`, { headers: { "x-api-key": key } });
    await settleVerificationCounts(); // no analytics flush of an earlier test pending
    const send = async (ctx: ExecutionContext, useEnv: Env = counted) => {
      const res = await app.fetch(request(), useEnv, ctx);
      expect(res.status).toBe(200);
    };
    const first = createExecutionContext();
    await send(first); // a miss: the primary read, lastUsedAt, the other shards read once
    await waitOnExecutionContext(first);
    // + the verification counts' flush, in waitUntil: one batch of one statement.
    expect(counts).toMatchObject({ d1Queries: 3, d1Batches: 1, kvLists: 1, kvReads: 0, kvWrites: 1 });
    // D1 bills rows read: the key and its account (and profile), nothing scanned besides.
    expect(counts.d1RowsRead).toBeGreaterThanOrEqual(2);
    expect(counts.d1RowsRead).toBeLessThanOrEqual(3 + 1);
    reset();
    const ctx = createExecutionContext();
    const started = Date.now();
    for (let i = 0; i < 20; i++) await send(ctx);
    expect(counts.d1Queries).toBe(0); // the record comes from this colo's cache
    expect(counts.d1Batches).toBe(0);
    await waitOnExecutionContext(ctx);
    expect(counts.d1Batches).toBe(1); // then one flush of the twenty outcomes
    expect(counts.d1Queries).toBe(1);
    expect(counts.kvReads + counts.kvLists).toBe(0);
    // Increments are coalesced: one flush per second at most, not one write per request.
    expect(counts.kvWrites).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 1000) + 1);
    // Today's path, for comparison: every request reads the primary once.
    reset();
    const off = { ...counted, EDGE_CACHE: "off" } as Env;
    const ctx2 = createExecutionContext();
    for (let i = 0; i < 10; i++) await send(ctx2, off);
    expect(counts.d1Queries).toBe(10);
    await waitOnExecutionContext(ctx2);
  }, 25_000);

  it("steady state: a warm OAuth access token costs no D1 query and no KV read, as a key", async () => {
    const account = await createAccount();
    const created = await createClient(account.id, { scopes: ["keys:read"] });
    const client: oauth.Client = { client_id: created.client.id };
    const tokens = await tokensFor(await discover(), client, oauth.ClientSecretBasic(created.clientSecret!), {
      clientId: client.client_id,
      user: { accountId: account.id, sub: "user_hot", permissions: ["keys:read"] },
    });
    const app = createApp();
    const { env: counted, counts, reset } = countingEnv();
    const send = async (ctx: ExecutionContext) => {
      const req = new Request(`${BASE}/v1/whoami`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      const res = await app.fetch(req, counted, ctx);
      expect(res.status).toBe(200);
    };
    const first = createExecutionContext();
    await send(first); // a miss, the grant's lastUsedAt, and the other shards read once
    await waitOnExecutionContext(first);
    reset();
    const ctx = createExecutionContext();
    for (let i = 0; i < 20; i++) await send(ctx);
    expect(counts.d1Queries).toBe(0); // the token, its client, grant, profile and account: from the cache
    expect(counts.d1Batches).toBe(0);
    expect(counts.kvReads + counts.kvLists).toBe(0);
    await waitOnExecutionContext(ctx);
  }, 25_000);

  it("concurrent requests share a primary read: 20 at once with 5 keys, each answered as its own key", async () => {
    const account = await createAccount("enterprise");
    const keys = await Promise.all(Array.from({ length: 5 }, (_, i) => createKey(account.id, { name: `k${i}` })));
    const app = createApp();
    const counting = countingEnv();
    const { counts, reset } = counting;
    // Every request a read of the primary (as misses are), to see them shared.
    const counted = { ...counting.env, EDGE_CACHE: "off" } as Env;
    const whoami = (key: string, ctx: ExecutionContext) =>
      app.fetch(new Request(`${BASE}/v1/whoami`, { headers: { "x-api-key": key } }), counted, ctx);
    const warm = createExecutionContext();
    for (const { key } of keys) await whoami(key, warm); // first uses: lastUsedAt, the shards read once
    await waitOnExecutionContext(warm);
    reset();
    const ctx = createExecutionContext();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => whoami(keys[i % 5]!.key, ctx)));
    const bodies = (await Promise.all(answers.map((r) => r.json()))) as { id: string; name: string }[];
    bodies.forEach((body, i) => {
      expect(body).toMatchObject({ id: keys[i % 5]!.apiKey.id, name: `k${i % 5}` });
    });
    // The first lookup runs alone, at once; those that arrived while it ran share the next.
    expect(counts.d1Queries).toBeGreaterThanOrEqual(2);
    expect(counts.d1Queries).toBeLessThanOrEqual(4);
    await waitOnExecutionContext(ctx);
  }, 25_000);
});

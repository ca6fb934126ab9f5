import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { settleVerificationCounts } from "../src/features/analytics/counter";
import { effectiveRemaining, lastBoundary, nextBoundary } from "../src/features/keys/credits";
import { createApp } from "../src/http/app";
import type { KeyhookBinding } from "../src/sdk/middleware";
import { ADMIN, BASE, call, createAccount, createKey } from "./helpers/api";
import { countingEnv } from "./helpers/counting-env";

const rpc = exports.KeyhookRpc as unknown as KeyhookBinding;
const at = (iso: string) => Date.parse(iso);

async function keyWithCredits(credits: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const account = await createAccount("enterprise");
  const made = await createKey(account.id, { credits, ...extra });
  return { account, ...made };
}

const verify = (body: Record<string, unknown>) => call("POST", "/v1/keys/verify", { token: ADMIN, body });

const eventTypes = async (accountId: string) =>
  (
    await env.DB.prepare("SELECT type FROM events WHERE account_id = ? AND type LIKE 'api_key.credits_%' ORDER BY type")
      .bind(accountId)
      .all<{ type: string }>()
  ).results.map((r) => r.type);

describe("refill boundaries", () => {
  it("daily: midnight UTC", () => {
    expect(lastBoundary("daily", 1, at("2027-03-05T13:00:00Z"))).toBe(at("2027-03-05T00:00:00Z"));
    expect(nextBoundary("daily", 1, at("2027-03-05T13:00:00Z"))).toBe(at("2027-03-06T00:00:00Z"));
    expect(nextBoundary("daily", 1, at("2027-12-31T23:59:59Z"))).toBe(at("2028-01-01T00:00:00Z"));
  });

  it("monthly: the day of the month, or the month's last day when it is shorter, across a year", () => {
    expect(lastBoundary("monthly", 15, at("2027-03-20T00:00:00Z"))).toBe(at("2027-03-15T00:00:00Z"));
    expect(lastBoundary("monthly", 15, at("2027-03-10T00:00:00Z"))).toBe(at("2027-02-15T00:00:00Z"));
    expect(nextBoundary("monthly", 31, at("2027-04-01T00:00:00Z"))).toBe(at("2027-04-30T00:00:00Z"));
    expect(nextBoundary("monthly", 1, at("2027-12-15T00:00:00Z"))).toBe(at("2028-01-01T00:00:00Z"));
    expect(lastBoundary("monthly", 1, at("2028-01-01T00:00:00Z"))).toBe(at("2028-01-01T00:00:00Z"));
  });

  it("a leap day: day 29–31 refills on 29 February in a leap year, 28 February otherwise", () => {
    expect(nextBoundary("monthly", 31, at("2028-02-10T00:00:00Z"))).toBe(at("2028-02-29T00:00:00Z"));
    expect(nextBoundary("monthly", 29, at("2027-02-10T00:00:00Z"))).toBe(at("2027-02-28T00:00:00Z"));
    expect(nextBoundary("monthly", 30, at("2028-02-29T00:00:00Z"))).toBe(at("2028-03-30T00:00:00Z"));
    expect(lastBoundary("monthly", 31, at("2028-03-01T12:00:00Z"))).toBe(at("2028-02-29T00:00:00Z"));
  });

  it("a refill is due once a boundary passed since the last one", () => {
    const c = {
      creditsRemaining: 3,
      creditsRefillInterval: "monthly",
      creditsRefillAmount: 100,
      creditsRefillDay: 31,
      creditsRefilledAt: at("2028-01-31T00:00:00Z"),
      creditsLowThreshold: null,
    };
    expect(effectiveRemaining(c, at("2028-02-28T23:59:59Z"))).toBe(3);
    expect(effectiveRemaining(c, at("2028-02-29T00:00:00Z"))).toBe(100);
  });
});

describe("usage credits", () => {
  it("every request spends one; the answer says what is left; exhausted is 429 usage_exceeded", async () => {
    const { apiKey, key } = await keyWithCredits({ remaining: 3 });
    expect(apiKey.credits).toEqual({ remaining: 3, refill: null, lowThreshold: 0, nextRefillAt: null });
    for (const left of [2, 1, 0]) {
      const res = await call("GET", "/v1/whoami", { apiKey: key });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-credits-remaining")).toBe(String(left));
    }
    const out = await call("GET", "/v1/whoami", { apiKey: key });
    expect(out.status).toBe(429);
    expect(out.body.error.code).toBe("usage_exceeded");
    expect(out.headers.get("retry-after")).toBeNull(); // no refill: no time to wait for
    expect(out.headers.get("x-credits-remaining")).toBe("0");
  });

  it("keys without credits are unlimited and carry no credits header", async () => {
    const account = await createAccount();
    const { apiKey, key } = await createKey(account.id);
    expect(apiKey.credits).toBeNull();
    const res = await call("GET", "/v1/whoami", { apiKey: key });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-credits-remaining")).toBeNull();
  });

  it("exact under concurrency: 50 verifies at once on 20 credits admit exactly 20", async () => {
    const { account, apiKey, key } = await keyWithCredits({ remaining: 20 });
    const answers = await Promise.all(Array.from({ length: 50 }, () => verify({ key })));
    const codes = answers.map((a) => a.body.code);
    expect(codes.filter((c) => c === "VALID")).toHaveLength(20);
    expect(codes.filter((c) => c === "USAGE_EXCEEDED")).toHaveLength(30);
    const row = await env.DB.prepare("SELECT credits_remaining FROM api_keys WHERE id = ?")
      .bind(apiKey.id)
      .first<{ credits_remaining: number }>();
    expect(row!.credits_remaining).toBe(0);
    // One crossing each, however many requests raced past it (published concurrently: any order).
    await expect.poll(() => eventTypes(account.id)).toEqual(["api_key.credits_exhausted", "api_key.credits_low"]);
  });

  it("verify takes a cost; 0 checks without spending; the service binding does the same", async () => {
    const { key } = await keyWithCredits({ remaining: 10 });
    expect((await verify({ key, cost: 4 })).body).toMatchObject({
      valid: true,
      code: "VALID",
      credits: { remaining: 6 },
    });
    expect((await verify({ key, cost: 0 })).body).toMatchObject({ valid: true, credits: { remaining: 6 } });
    expect((await verify({ key, cost: 7 })).body).toMatchObject({
      valid: false,
      code: "USAGE_EXCEEDED",
      credits: { remaining: 6 },
    });
    expect(await rpc.verify(key, [], { cost: 6 })).toMatchObject({ valid: true, credits: { remaining: 0 } });
    expect(await rpc.verify(key, [], { cost: 0 })).toMatchObject({ valid: false, code: "USAGE_EXCEEDED" });
    expect((await verify({ key, cost: -1 })).status).toBe(400);
  });

  it("a refused request spends nothing: insufficient scope, rate limit (every try counts toward the limit)", async () => {
    const { key, apiKey } = await keyWithCredits({ remaining: 5 }, { scopes: ["keys:read"], rateLimitPerHour: 3 });
    expect((await verify({ key, scopes: ["keys:write"] })).body.code).toBe("INSUFFICIENT_SCOPE");
    expect((await verify({ key })).body.credits.remaining).toBe(4);
    expect((await verify({ key })).body.credits.remaining).toBe(3);
    expect((await verify({ key })).body.code).toBe("RATE_LIMITED");
    const res = await call("GET", `/v1/api-keys/${apiKey.id}`, {
      token: ADMIN,
      accountId: (await keyAccount(apiKey.id))!,
    });
    expect(res.body.apiKey.credits.remaining).toBe(3);
  });

  it("refills lazily: a boundary passed since the last refill starts again from the amount", async () => {
    const { key, apiKey } = await keyWithCredits({
      remaining: 1,
      refill: { interval: "monthly", amount: 50, dayOfMonth: 31 },
    });
    expect(apiKey.credits.refill).toEqual({ interval: "monthly", amount: 50, dayOfMonth: 31 });
    expect(apiKey.credits.lowThreshold).toBe(5);
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(200);
    const out = await call("GET", "/v1/whoami", { apiKey: key });
    expect(out.status).toBe(429);
    const retry = Number(out.headers.get("retry-after"));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(31 * 86_400);
    expect(Date.parse(out.body.error.details.nextRefillAt)).toBe(nextBoundary("monthly", 31, Date.now()));
    // The list shows the same (it once passed each row's index as the time: 1970).
    const listed = await call("GET", "/v1/api-keys", { token: ADMIN, accountId: (await keyAccount(apiKey.id))! });
    const row = listed.body.apiKeys.find((k: { id: string }) => k.id === apiKey.id);
    expect(Date.parse(row.credits.nextRefillAt)).toBe(nextBoundary("monthly", 31, Date.now()));
    // The last refill was before the latest boundary (as if a month had gone by): the next request refills.
    await env.DB.prepare("UPDATE api_keys SET credits_refilled_at = ? WHERE id = ?")
      .bind(lastBoundary("monthly", 31, Date.now()) - 1, apiKey.id)
      .run();
    const back = await call("GET", "/v1/whoami", { apiKey: key });
    expect(back.status).toBe(200);
    expect(back.headers.get("x-credits-remaining")).toBe("49");
  });

  it("PATCH sets credits (null removes them); /credits sets, increments, decrements; every change audited", async () => {
    const account = await createAccount();
    const { apiKey, key } = await createKey(account.id);
    const as = { token: ADMIN, accountId: account.id };
    const patched = await call("PATCH", `/v1/api-keys/${apiKey.id}`, { ...as, body: { credits: { remaining: 5 } } });
    expect(patched.body.apiKey.credits.remaining).toBe(5);
    const adjust = (body: unknown) => call("POST", `/v1/api-keys/${apiKey.id}/credits`, { ...as, body });
    expect((await adjust({ op: "increment", amount: 10 })).body.apiKey.credits.remaining).toBe(15);
    expect((await adjust({ op: "decrement", amount: 20 })).body.apiKey.credits.remaining).toBe(0);
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(429);
    expect((await adjust({ op: "set", amount: 2 })).body.apiKey.credits.remaining).toBe(2);
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(200);
    expect((await adjust({ op: "bogus", amount: 1 })).status).toBe(400);
    expect((await adjust({ op: "set", amount: -1 })).status).toBe(400);
    const unlimited = await call("PATCH", `/v1/api-keys/${apiKey.id}`, { ...as, body: { credits: null } });
    expect(unlimited.body.apiKey.credits).toBeNull();
    const log = await call("GET", `/v1/audit-log?targetId=${apiKey.id}`, as);
    const credited = log.body.entries.filter((e: { changes: Record<string, unknown> | null }) => e.changes?.credits);
    expect(credited.map((e: { action: string }) => e.action)).toEqual(
      [
        "api_key.updated",
        "api_key.credits_updated",
        "api_key.credits_updated",
        "api_key.credits_updated",
        "api_key.updated",
      ].reverse(),
    );
  });

  it("a key with credits costs one D1 statement per request in the steady state, like a key without", async () => {
    const { key, apiKey } = await keyWithCredits({ remaining: 1000 });
    const app = createApp();
    const { env: counted, counts, reset } = countingEnv();
    const send = async (ctx: ExecutionContext) => {
      const res = await app.fetch(new Request(`${BASE}/v1/whoami`, { headers: { "x-api-key": key } }), counted, ctx);
      expect(res.status).toBe(200);
    };
    await settleVerificationCounts(); // no analytics flush of an earlier test pending
    const first = createExecutionContext();
    await send(first);
    await waitOnExecutionContext(first);
    reset();
    const ctx = createExecutionContext();
    for (let i = 0; i < 20; i++) await send(ctx);
    expect(counts.d1Queries).toBe(20); // the request path: one statement each
    expect(counts.d1Batches).toBe(0);
    await waitOnExecutionContext(ctx); // then the verification counts' flush, once for all twenty
    expect(counts.d1Batches).toBe(1);
    const left = await env.DB.prepare("SELECT credits_remaining FROM api_keys WHERE id = ?")
      .bind(apiKey.id)
      .first<{ credits_remaining: number }>();
    expect(left!.credits_remaining).toBe(1000 - 21);
  }, 25_000);
});

async function keyAccount(id: string) {
  return (await env.DB.prepare("SELECT account_id FROM api_keys WHERE id = ?").bind(id).first<{ account_id: string }>())
    ?.account_id;
}

describe("hourly limits up to a billion", () => {
  it("an account override and a key's own limit take up to 1,000,000,000 an hour, not more", async () => {
    const account = await createAccount("enterprise");
    const as = { token: ADMIN, accountId: account.id };
    const patch = (rateLimitPerHour: number) =>
      call("PATCH", `/v1/accounts/${account.id}`, { token: ADMIN, body: { limits: { rateLimitPerHour } } });
    expect((await patch(1_000_000_000)).body.account.limits.rateLimitPerHour).toBe(1_000_000_000);
    expect((await patch(1_000_000_001)).status).toBe(400);
    const { key } = await createKey(account.id, { rateLimitPerHour: 1_000_000_000 });
    const res = await call("GET", "/v1/whoami", { apiKey: key });
    expect(res.headers.get("x-ratelimit-limit")).toBe("1000000000");
    const tooHigh = await call("POST", "/v1/api-keys", { ...as, body: { name: "x", rateLimitPerHour: 1_000_000_001 } });
    expect(tooHigh.status).toBe(400);
  });
});

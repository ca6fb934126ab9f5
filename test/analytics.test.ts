import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { settleVerificationCounts } from "../src/features/analytics/counter";
import { tracking } from "../src/features/ratelimit/sharded-counter";
import { createApp } from "../src/http/app";
import { ADMIN, accountWithKey, BASE, call, createKey } from "./helpers/api";
import { countingEnv } from "./helpers/counting-env";

const HOUR = 3_600_000;

/** Counts reach D1 within the flush interval (5 s): poll the API until they are there. */
const analytics = (accountId: string, query = "") =>
  call("GET", `/v1/analytics/verifications${query}`, { token: ADMIN, accountId });

describe("verification analytics", () => {
  it("counts a known mix of outcomes per key and for the account, with top keys", async () => {
    const { account, apiKey, key } = await accountWithKey("pro", { rateLimitPerHour: 4 });
    const verifier = await createKey(account.id, { name: "verifier", scopes: ["keys:verify"] });
    const revoked = await createKey(account.id, { name: "gone" });
    await call("DELETE", `/v1/api-keys/${revoked.apiKey.id}`, { token: ADMIN, accountId: account.id });
    const verify = (body: Record<string, unknown>) => call("POST", "/v1/keys/verify", { apiKey: verifier.key, body });
    for (let i = 0; i < 3; i++) expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(200);
    expect((await verify({ key, scopes: ["webhooks:write"] })).body.code).toBe("VALID"); // full access
    expect((await verify({ key })).body.code).toBe("RATE_LIMITED");
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(429);
    for (let i = 0; i < 2; i++) expect((await verify({ key: revoked.key })).body.code).toBe("REVOKED");
    expect((await verify({ key: "kh_live_nope" })).body.code).toBe("MALFORMED");
    // Another account's key, verified from here: NOT_FOUND here, nothing counted in the other account.
    const stranger = await accountWithKey();
    expect((await verify({ key: stranger.key })).body.code).toBe("NOT_FOUND");

    await expect
      .poll(async () => (await analytics(account.id, `?keyId=${apiKey.id}`)).body.totals, { timeout: 15_000 })
      .toEqual({ total: 6, outcomes: { VALID: 4, RATE_LIMITED: 2 } });
    const perKey = await analytics(account.id, `?keyId=${apiKey.id}`);
    expect(perKey.body.series).toHaveLength(25); // the last 24 hours, whole hours
    expect(perKey.body.series.at(-1)).toMatchObject({ total: 6, outcomes: { VALID: 4, RATE_LIMITED: 2 } });
    await expect
      .poll(async () => (await analytics(account.id)).body.totals.outcomes)
      // The verifier's own six requests are verifications too (VALID, under the verifier key).
      .toEqual({ VALID: 10, RATE_LIMITED: 2, REVOKED: 2, MALFORMED: 1, NOT_FOUND: 1 });
    const whole = await analytics(account.id);
    expect(whole.body.topKeys).toContainEqual({ keyId: apiKey.id, name: apiKey.name, total: 6, valid: 4 });
    expect(whole.body.topKeys).toContainEqual({ keyId: verifier.apiKey.id, name: "verifier", total: 6, valid: 6 });
    expect(whole.body.topKeys.map((k: { keyId: string }) => k.keyId)).not.toContain(stranger.apiKey.id);
    // The stranger's account saw its key verified by no one of its own.
    expect((await analytics(stranger.account.id)).body.totals.total).toBe(0);

    const daily = await analytics(account.id, "?granularity=day");
    expect(daily.body.series).toHaveLength(31);
    expect(daily.body.totals.total).toBe(16);
  }, 40_000);

  it("adds no D1 or KV operation to the request path; one flush batch later", async () => {
    tracking.fund(); // the first request reads the shared count; credit for it (test/ratelimit-budget.test.ts)
    const { key } = await accountWithKey();
    const app = createApp();
    const { env: counted, counts, reset } = countingEnv();
    const send = (ctx: ExecutionContext) =>
      app.fetch(new Request(`${BASE}/v1/whoami`, { headers: { "x-api-key": key } }), counted, ctx);
    await settleVerificationCounts();
    const first = createExecutionContext();
    await send(first);
    await waitOnExecutionContext(first);
    reset();
    const ctx = createExecutionContext();
    for (let i = 0; i < 20; i++) expect((await send(ctx)).status).toBe(200);
    expect(counts.d1Queries).toBe(0); // the key is warm (the edge tier), and counting adds nothing
    expect(counts.d1Batches).toBe(0);
    expect(counts.kvReads + counts.kvLists).toBe(0);
    await waitOnExecutionContext(ctx); // the flush: one batch for all twenty
    expect(counts.d1Batches).toBe(1);
  }, 20_000);

  it("refuses a range beyond the reach, an inverted range, another account's key; prunes old counts", async () => {
    const { account } = await accountWithKey();
    const stranger = await accountWithKey();
    const old = new Date(Date.now() - 8 * 24 * HOUR).toISOString();
    expect((await analytics(account.id, `?since=${old}`)).status).toBe(400);
    expect((await analytics(account.id, `?granularity=day&since=${old}`)).status).toBe(200);
    const now = new Date().toISOString();
    expect((await analytics(account.id, `?since=${now}&until=${old}`)).status).toBe(400);
    expect((await analytics(account.id, `?keyId=${stranger.apiKey.id}`)).status).toBe(404);
    expect((await analytics(account.id, "?granularity=week")).status).toBe(400);
    // A count older than 91 days goes with the cron; a recent one stays.
    const hour = Math.floor(Date.now() / HOUR) * HOUR;
    await env.DB.prepare(
      "INSERT INTO verification_counts (account_id, hour, key_id, outcome, count) VALUES (?1, ?2, 'k', 'VALID', 1), (?1, ?3, 'k', 'VALID', 1)",
    )
      .bind(account.id, hour - 92 * 24 * HOUR, hour)
      .run();
    const { compose } = await import("../src/compose");
    const services = compose(env, { waitUntil: () => {} });
    await services.analytics.prune();
    const left = await env.DB.prepare("SELECT hour FROM verification_counts WHERE account_id = ?")
      .bind(account.id)
      .all<{ hour: number }>();
    expect(left.results.map((r) => r.hour)).toEqual([hour]);
  });
});

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/http/app";
import { ADMIN, accountWithKey, BASE } from "./helpers/api";
import { countingEnv } from "./helpers/counting-env";

/** One app and one env with the opt-in key cache on, as one isolate would have them. */
function cachedIsolate(ttlSeconds: string) {
  const app = createApp();
  const counted = countingEnv();
  const cachedEnv = { ...counted.env, KEY_CACHE_TTL_SECONDS: ttlSeconds };
  // One context for all: the rate counter's coalesced flush (up to 1 s later) runs in its waitUntil.
  const ctx = createExecutionContext();
  const send = (path: string, init: RequestInit = {}) => app.fetch(new Request(BASE + path, init), cachedEnv, ctx);
  return { send, counts: counted.counts, reset: counted.reset, settle: () => waitOnExecutionContext(ctx) };
}

describe("opt-in key cache (KEY_CACHE_TTL_SECONDS)", () => {
  it("off by default: every key-authenticated request reads D1", async () => {
    const { key } = await accountWithKey();
    const { send, counts, reset, settle } = cachedIsolate("0");
    await send("/v1/whoami", { headers: { "x-api-key": key } });
    reset();
    for (let i = 0; i < 5; i++) expect((await send("/v1/whoami", { headers: { "x-api-key": key } })).status).toBe(200);
    expect(counts.d1Queries).toBe(5);
    await settle();
  });

  it("on: repeated requests with a key make no D1 read until the entry expires", async () => {
    const { key } = await accountWithKey();
    const { send, counts, reset, settle } = cachedIsolate("60");
    expect((await send("/v1/whoami", { headers: { "x-api-key": key } })).status).toBe(200);
    expect(counts.d1Queries).toBe(2); // the lookup, and lastUsedAt on first use
    reset();
    for (let i = 0; i < 10; i++) expect((await send("/v1/whoami", { headers: { "x-api-key": key } })).status).toBe(200);
    // Neither the lookup nor lastUsedAt again: the cached row still says "never used", memory knows better.
    expect(counts.d1Queries).toBe(0);
    await settle();
  });

  it("a revoke made through this isolate applies to the very next request", async () => {
    const { account, apiKey, key } = await accountWithKey();
    const { send, settle } = cachedIsolate("60");
    expect((await send("/v1/whoami", { headers: { "x-api-key": key } })).status).toBe(200);
    const revoke = await send(`/v1/api-keys/${apiKey.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN}`, "x-account-id": account.id },
    });
    expect(revoke.status).toBeLessThan(300);
    expect((await send("/v1/whoami", { headers: { "x-api-key": key } })).status).toBe(401);
    await settle();
  });

  it("a revoke made elsewhere (another isolate) applies once the TTL has passed, not before", async () => {
    const { apiKey, key } = await accountWithKey();
    const { send, settle } = cachedIsolate("1");
    expect((await send("/v1/whoami", { headers: { "x-api-key": key } })).status).toBe(200);
    // Another isolate revokes it: straight in D1, so this isolate's cache is not told.
    await env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ?").bind(Date.now(), apiKey.id).run();
    const revokedAt = Date.now();
    expect((await send("/v1/whoami", { headers: { "x-api-key": key } })).status).toBe(200);
    await expect
      .poll(async () => (await send("/v1/whoami", { headers: { "x-api-key": key } })).status, { timeout: 3_000 })
      .toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(2_500);
    await settle();
  });

  it("an unknown key is never cached: a key made after a failed try works at once", async () => {
    const { key } = await accountWithKey();
    const { send, settle } = cachedIsolate("60");
    const mangled = `${key.slice(0, -7)}${key.at(-7) === "a" ? "b" : "a"}${key.slice(-6)}`;
    expect((await send("/v1/whoami", { headers: { "x-api-key": mangled } })).status).toBe(401);
    expect((await send("/v1/whoami", { headers: { "x-api-key": key } })).status).toBe(200);
    await settle();
  });
});

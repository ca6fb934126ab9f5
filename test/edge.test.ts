import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as oauth from "oauth4webapi";
import { describe, expect, it, vi } from "vitest";
import { compose } from "../src/compose";
import { recordPath } from "../src/features/edge/records";
import { createApp } from "../src/http/app";
import { sha256Hex } from "../src/lib/crypto";
import { ADMIN, accountWithKey, BASE, call, createAccount, createKey } from "./helpers/api";
import { countingEnv } from "./helpers/counting-env";
import { createClient, discover, tokensFor } from "./helpers/oauth";
import { createWebhook, uniqueName, waitForReceived } from "./helpers/webhooks";

/** This process's colo cache (the local stand-in for Workers Cache). */
const colo = () => env.EDGE_COLO.get(env.EDGE_COLO.idFromName("colo"));

/** Whether the credential's record is in the colo cache now. */
async function cached(kind: "keys" | "tokens", credential: string) {
  return (await colo().get(recordPath(kind, await sha256Hex(credential)), Date.now())) !== null;
}

const whoami = (credential: string, headers: Record<string, string> = {}) =>
  call("GET", "/v1/whoami", { token: credential, headers });

/** Uses the credential until its record is cached in this colo: the next request is a hit. */
async function warm(kind: "keys" | "tokens", credential: string) {
  expect((await whoami(credential)).status).toBe(200);
  await vi.waitUntil(() => cached(kind, credential), { timeout: 5_000 });
  expect((await whoami(credential)).status).toBe(200);
}

const asOperator = (accountId: string) => ({ token: ADMIN, accountId });

describe("the edge tier: a warm credential answered without D1", () => {
  it("a warm key's request makes no D1 query (the record comes from the colo's cache)", async () => {
    const { key } = await accountWithKey();
    await warm("keys", key);
    const app = createApp();
    const { env: counted, counts, reset } = countingEnv();
    const ctx = createExecutionContext();
    const first = await app.fetch(new Request(`${BASE}/v1/whoami`, { headers: { "x-api-key": key } }), counted, ctx);
    expect(first.status).toBe(200);
    await waitOnExecutionContext(ctx); // this isolate's lastUsedAt and shard reads settle once
    reset();
    const ctx2 = createExecutionContext();
    for (let i = 0; i < 20; i++) {
      const res = await app.fetch(new Request(`${BASE}/v1/whoami`, { headers: { "x-api-key": key } }), counted, ctx2);
      expect(res.status).toBe(200);
    }
    expect(counts.d1Queries).toBe(0);
    expect(counts.d1Batches).toBe(0);
    expect(counts.kvReads + counts.kvLists).toBe(0);
    await waitOnExecutionContext(ctx2);
  }, 25_000);

  it("'not found' is never cached: a key created after a miss works at once", async () => {
    const { account } = await accountWithKey();
    const unknown = "kh_live_0000000000000000000000000000000000000";
    expect((await whoami(unknown)).status).toBe(401);
    const { key } = await createKey(account.id);
    expect((await whoami(key)).status).toBe(200);
    expect(await cached("keys", unknown)).toBe(false);
  });

  it("a fill slower than the fill window answers but is not cached (it may have read a state older than a purge)", async () => {
    const { key } = await accountWithKey();
    const slowDb = new Proxy(env.DB, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== "prepare") return typeof value === "function" ? value.bind(target) : value;
        return (sql: string) => {
          const stmt = target.prepare(sql);
          const slow = async <T>(run: () => Promise<T>) => {
            await new Promise((r) => setTimeout(r, Number(env.EDGE_FILL_WINDOW_MS) + 100));
            return run();
          };
          return new Proxy(stmt, {
            get(s, p) {
              if (p === "bind")
                return (...args: unknown[]) => {
                  const bound = s.bind(...args);
                  return {
                    ...bound,
                    all: () => slow(() => bound.all()),
                    first: (c?: string) => slow(() => (c ? bound.first(c) : bound.first())),
                    raw: (o?: { columnNames: true }) => slow(() => bound.raw(o as never)),
                    run: () => slow(() => bound.run()),
                  };
                };
              const v = Reflect.get(s, p);
              return typeof v === "function" ? v.bind(s) : v;
            },
          });
        };
      },
    });
    const work: Promise<unknown>[] = [];
    const services = compose({ ...env, DB: slowDb } as Env, { waitUntil: (p) => work.push(p) });
    expect((await services.auth.verify(key)).valid).toBe(true);
    await Promise.all(work);
    expect(await cached("keys", key)).toBe(false);
  });
});

/** env.DB whose every statement answers `ms` after it ran: a read that saw the old state, arriving late. */
function lateDb(ms: number): D1Database {
  const late = async <T>(result: Promise<T>) => {
    const value = await result;
    await new Promise((r) => setTimeout(r, ms));
    return value;
  };
  return new Proxy(env.DB, {
    get(target, prop) {
      if (prop !== "prepare") {
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (sql: string) => {
        const stmt = target.prepare(sql);
        return new Proxy(stmt, {
          get(st, p) {
            if (p === "bind")
              return (...args: unknown[]) => {
                const bound = st.bind(...args);
                return {
                  ...bound,
                  all: () => late(bound.all()),
                  first: (c?: string) => late(c ? bound.first(c) : bound.first()),
                  raw: (o?: { columnNames: true }) => late(bound.raw(o as never)),
                  run: () => late(bound.run()),
                };
              };
            const v = Reflect.get(st, p);
            return typeof v === "function" ? v.bind(st) : v;
          },
        });
      };
    },
  });
}

describe("a fill racing a change", () => {
  it("a request that read the key just before its revoke cannot put it back after the purge", async () => {
    const { account, apiKey, key } = await accountWithKey();
    // A wide fill window, so the race is wide enough to lose without the purge's wait.
    const wide = { ...env, EDGE_FILL_WINDOW_MS: "200" } as Env;
    // A miss whose primary read saw the key valid, and answers 150 ms later — within the window.
    const work: Promise<unknown>[] = [];
    const slow = compose({ ...wide, DB: lateDb(150) } as Env, { waitUntil: (p) => work.push(p) });
    const filling = slow.auth.verify(key);
    // Meanwhile the key is revoked; the call answers after its purge.
    await new Promise((r) => setTimeout(r, 5));
    const ctx = createExecutionContext();
    const revoked = await createApp().fetch(
      new Request(`${BASE}/v1/api-keys/${apiKey.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${ADMIN}`, "x-account-id": account.id },
      }),
      wide,
      ctx,
    );
    expect(revoked.status).toBe(200);
    expect((await filling).valid).toBe(true); // it read before the revoke committed
    // Its put was issued before the purge (the purge waited out the fill window), so the purge removed it.
    expect((await whoami(key)).status).toBe(401);
    await waitOnExecutionContext(ctx);
    await Promise.all(work);
  }, 15_000);
});

describe("invalidation is part of every change: cached, changed, the next request judged on the new state", () => {
  it("revoke", async () => {
    const { account, apiKey, key } = await accountWithKey();
    await warm("keys", key);
    expect((await call("DELETE", `/v1/api-keys/${apiKey.id}`, asOperator(account.id))).status).toBe(200);
    expect((await whoami(key)).status).toBe(401);
  });

  it("disable, then enable", async () => {
    const { account, apiKey, key } = await accountWithKey();
    await warm("keys", key);
    const patch = (body: unknown) => call("PATCH", `/v1/api-keys/${apiKey.id}`, { ...asOperator(account.id), body });
    expect((await patch({ enabled: false })).status).toBe(200);
    expect((await whoami(key)).body.error.code).toBe("key_disabled");
    await vi.waitUntil(() => cached("keys", key), { timeout: 5_000 }).catch(() => {}); // a disabled key's record may be cached too
    expect((await patch({ enabled: true })).status).toBe(200);
    expect((await whoami(key)).status).toBe(200);
  });

  it("rotate: the old secret is refused at once without a grace period", async () => {
    const { account, apiKey, key } = await accountWithKey();
    await warm("keys", key);
    const rotated = await call("POST", `/v1/api-keys/${apiKey.id}/rotate`, {
      ...asOperator(account.id),
      body: { gracePeriodSeconds: 0 },
    });
    expect(rotated.status).toBe(200);
    expect((await whoami(key)).status).toBe(401);
    expect((await whoami(rotated.body.key)).status).toBe(200);
  });

  it("scopes, expiry, rate limit and metadata", async () => {
    const { account, apiKey, key } = await accountWithKey("pro", { scopes: ["keys:read"] });
    const patch = (body: unknown) => call("PATCH", `/v1/api-keys/${apiKey.id}`, { ...asOperator(account.id), body });
    const verifier = await createKey(account.id, { scopes: ["keys:verify"] });
    const verify = async () =>
      (await call("POST", "/v1/keys/verify", { apiKey: verifier.key, body: { key, scopes: [] } })).body;
    await warm("keys", key);
    expect((await patch({ scopes: ["keys:write"] })).status).toBe(200);
    expect((await whoami(key)).body.permissions).toEqual(["keys:write"]);
    await warm("keys", key);
    expect((await patch({ rateLimitPerHour: 77 })).status).toBe(200);
    expect((await whoami(key)).headers.get("x-ratelimit-limit")).toBe("77");
    await warm("keys", key);
    expect((await patch({ metadata: { tier: "gold" } })).status).toBe(200);
    expect((await verify()).metadata).toEqual({ tier: "gold" });
    await warm("keys", key);
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    expect((await patch({ expiresAt: soon })).status).toBe(200);
    expect((await verify()).expiresAt).toBe(soon);
  });

  it("a profile's edit", async () => {
    const account = await createAccount();
    const profile = await call("POST", "/v1/permission-profiles", {
      ...asOperator(account.id),
      body: { name: "Readers", permissions: ["keys:read"] },
    });
    const { key } = await createKey(account.id, { profileId: profile.body.profile.id });
    await warm("keys", key);
    const edited = await call("PATCH", `/v1/permission-profiles/${profile.body.profile.id}`, {
      ...asOperator(account.id),
      body: { permissions: ["audit:read"] },
    });
    expect(edited.status).toBe(200);
    expect((await whoami(key)).body.permissions).toEqual(["audit:read"]);
  });

  it("an account's plan, its limits, and its deletion", async () => {
    const { account, key } = await accountWithKey();
    await warm("keys", key);
    const patch = (body: unknown) => call("PATCH", `/v1/accounts/${account.id}`, { token: ADMIN, body });
    expect((await patch({ limits: { rateLimitPerHour: 9 } })).status).toBe(200);
    expect((await whoami(key)).headers.get("x-ratelimit-limit")).toBe("9");
    await warm("keys", key);
    expect((await patch({ plan: "free" })).status).toBe(200);
    expect((await whoami(key)).body.error.code).toBe("plan_no_api_access");
    expect((await patch({ plan: "pro" })).status).toBe(200);
    await warm("keys", key);
    expect((await call("DELETE", `/v1/accounts/${account.id}`, { token: ADMIN })).status).toBe(200);
    expect((await whoami(key)).status).toBe(401);
  });
});

describe("OAuth access tokens at the edge", () => {
  async function token(accountId: string, permissions = ["keys:read"], scopes = ["keys:read"]) {
    const created = await createClient(accountId, { scopes });
    const client: oauth.Client = { client_id: created.client.id };
    const auth = oauth.ClientSecretBasic(created.clientSecret ?? "");
    const as = await discover();
    const user = { accountId, sub: `user_${crypto.randomUUID().slice(0, 8)}`, permissions };
    const tokens = await tokensFor(as, client, auth, { clientId: client.client_id, user });
    return { created, client, auth, as, user, tokens };
  }

  it("a warm token's request makes no D1 query", async () => {
    const account = await createAccount();
    const { tokens } = await token(account.id);
    await warm("tokens", tokens.access_token);
    const app = createApp();
    const { env: counted, counts, reset } = countingEnv();
    const ctx = createExecutionContext();
    const send = () =>
      app.fetch(
        new Request(`${BASE}/v1/whoami`, { headers: { authorization: `Bearer ${tokens.access_token}` } }),
        counted,
        ctx,
      );
    expect((await send()).status).toBe(200);
    await waitOnExecutionContext(ctx);
    reset();
    const ctx2 = createExecutionContext();
    for (let i = 0; i < 10; i++) expect((await send()).status).toBe(200);
    expect(counts.d1Queries).toBe(0);
    await waitOnExecutionContext(ctx2);
  }, 25_000);

  it("a client disabled, and deleted", async () => {
    const account = await createAccount();
    const { created, tokens } = await token(account.id);
    await warm("tokens", tokens.access_token);
    const path = `/v1/oauth-clients/${created.client.id}`;
    expect((await call("PATCH", path, { ...asOperator(account.id), body: { enabled: false } })).status).toBe(200);
    expect((await whoami(tokens.access_token)).status).toBe(401);
    expect((await call("PATCH", path, { ...asOperator(account.id), body: { enabled: true } })).status).toBe(200);
    await warm("tokens", tokens.access_token);
    expect((await call("DELETE", path, asOperator(account.id))).status).toBe(200);
    expect((await whoami(tokens.access_token)).status).toBe(401);
  });

  it("a grant revoked by its user's admin, and a token revoked by its client (RFC 7009)", async () => {
    const account = await createAccount();
    const first = await token(account.id);
    await warm("tokens", first.tokens.access_token);
    const grants = await call("GET", "/v1/oauth-grants", asOperator(account.id));
    const grant = grants.body.grants.find((g: { client: { id: string } }) => g.client.id === first.created.client.id);
    expect((await call("DELETE", `/v1/oauth-grants/${grant.id}`, asOperator(account.id))).status).toBe(200);
    expect((await whoami(first.tokens.access_token)).status).toBe(401);

    const second = await token(account.id);
    await warm("tokens", second.tokens.access_token);
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(second.as, second.client, second.auth, second.tokens.access_token, {
        [oauth.customFetch]: (url: string, init?: RequestInit) => fetchWorker(url, init),
        [oauth.allowInsecureRequests]: true,
      }),
    );
    expect((await whoami(second.tokens.access_token)).status).toBe(401);
  });

  it("a profile the user holds, deleted: the token loses its permissions", async () => {
    const account = await createAccount();
    const profile = await call("POST", "/v1/permission-profiles", {
      ...asOperator(account.id),
      body: { name: "Auditors", permissions: ["audit:read"] },
    });
    const created = await createClient(account.id, { scopes: ["audit:read", "keys:read"] });
    const client: oauth.Client = { client_id: created.client.id };
    const user = {
      accountId: account.id,
      sub: "user_prof",
      permissions: ["keys:read"],
      profileId: profile.body.profile.id,
    };
    const tokens = await tokensFor(await discover(), client, oauth.ClientSecretBasic(created.clientSecret ?? ""), {
      clientId: client.client_id,
      user,
    });
    await warm("tokens", tokens.access_token);
    expect((await whoami(tokens.access_token)).body.permissions.sort()).toEqual(["audit:read", "keys:read"]);
    expect(
      (await call("DELETE", `/v1/permission-profiles/${profile.body.profile.id}`, asOperator(account.id))).status,
    ).toBe(200);
    expect((await whoami(tokens.access_token)).body.permissions).toEqual(["keys:read"]);
  });

  it("what the user holds, changed by the host", async () => {
    const account = await createAccount();
    const { tokens, user } = await token(account.id, ["keys:read", "keys:write"], ["keys:read", "keys:write"]);
    await warm("tokens", tokens.access_token);
    const put = await call("PUT", `/v1/oauth-users/${user.sub}`, {
      ...asOperator(account.id),
      body: { role: "member", permissions: ["keys:read"] },
    });
    expect(put.status).toBe(200);
    expect((await whoami(tokens.access_token)).body.permissions).toEqual(["keys:read"]);
  });
});

describe("when the purge cannot be confirmed", () => {
  it("the call answers within its budget, says so, and names the bound; past it every colo refuses the old state", async () => {
    const { account, apiKey, key } = await accountWithKey();
    await warm("keys", key);
    // Every purge fails (a purge service answering 500).
    const failing = { ...env, EDGE_PURGE_URL: `${env.RECEIVER_URL}/status/500/purge-${crypto.randomUUID()}` } as Env;
    const app = createApp();
    const ctx = createExecutionContext();
    const started = Date.now();
    const revoked = await app.fetch(
      new Request(`${BASE}/v1/api-keys/${apiKey.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${ADMIN}`, "x-account-id": account.id },
      }),
      failing,
      ctx,
    );
    const took = Date.now() - started;
    expect(revoked.status).toBe(200);
    const header = revoked.headers.get("keyhook-invalidation") ?? "";
    expect(header).toMatch(/^unconfirmed; everywhere-by=/);
    expect(took).toBeLessThan(4_000);
    const everywhereBy = Date.parse(header.split("everywhere-by=")[1] ?? "");
    const ttl = Number(env.EDGE_RECORD_TTL_SECONDS) * 1000;
    expect(everywhereBy - started).toBeGreaterThan(ttl - 5_000);
    expect(everywhereBy - started).toBeLessThanOrEqual(ttl + 5_000);
    // The record this colo cached before the revoke is still there (the purge never ran) ...
    expect(await cached("keys", key)).toBe(true);
    // ... so until the bound the old state may still be served here; from the bound on, never.
    const at = (now: number) => compose(env, { waitUntil: () => {} }, { now: () => now }).auth.verify(key);
    expect((await at(everywhereBy)).code).toBe("REVOKED");
    expect((await at(everywhereBy + 60_000)).code).toBe("REVOKED");
  }, 20_000);
});

describe("a change's own event", () => {
  it("is written with the change but sent only once the change's purge holds (here: after its answer budget)", async () => {
    const { account, apiKey, key } = await accountWithKey();
    const name = uniqueName();
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}`, events: ["api_key.revoked"] });
    await warm("keys", key);
    // Every purge fails: the revoke answers unconfirmed after its budget, and only then is its event sent.
    const failing = { ...env, EDGE_PURGE_URL: `${env.RECEIVER_URL}/status/500/purge-${crypto.randomUUID()}` } as Env;
    const ctx = createExecutionContext();
    const started = Date.now();
    const revoked = await createApp().fetch(
      new Request(`${BASE}/v1/api-keys/${apiKey.id}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${ADMIN}`, "x-account-id": account.id },
      }),
      failing,
      ctx,
    );
    expect(revoked.status).toBe(200);
    const [event] = await waitForReceived(name, 1);
    expect(JSON.parse(event?.body ?? "{}").event).toBe("api_key.revoked");
    // The outbox write ran beside the purge's wait; the send waited for the purge's outcome.
    expect((event?.at ?? 0) - started).toBeGreaterThanOrEqual(2_000);
  }, 20_000);
});

async function fetchWorker(url: string, init?: RequestInit) {
  const { exports } = await import("cloudflare:workers");
  return exports.default.fetch(new Request(url, init));
}

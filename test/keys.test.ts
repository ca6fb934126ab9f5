import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { compose } from "../src/compose";
import { ADMIN, accountWithKey, call, createAccount, createKey, userToken } from "./helpers/api";

const asOperator = (accountId: string) => ({ token: ADMIN, accountId });

describe("create", () => {
  it("answers 201 {apiKey, key}; the secret appears only there, never a hash", async () => {
    const account = await createAccount();
    const res = await call("POST", "/v1/api-keys", {
      ...asOperator(account.id),
      body: { name: "CI/CD Pipeline", scopes: ["keys:read", "audits:read"], metadata: { team: "infra" } },
    });
    expect(res.status).toBe(201);
    const { apiKey, key } = res.body;
    expect(key).toMatch(/^kh_live_/);
    expect(apiKey).toMatchObject({
      name: "CI/CD Pipeline",
      scopes: ["keys:read", "audits:read"],
      enabled: true,
      metadata: { team: "infra" },
      lastUsedAt: null,
      expiresAt: null,
      prefix: key.slice(0, 12),
      last4: key.slice(-4),
    });
    const listed = await call("GET", "/v1/api-keys", asOperator(account.id));
    const text =
      JSON.stringify(listed.body) +
      JSON.stringify(await call("GET", `/v1/api-keys/${apiKey.id}`, asOperator(account.id)));
    expect(text).not.toContain(key);
    const stored = await env.DB.prepare("SELECT hash FROM api_keys WHERE id = ?")
      .bind(apiKey.id)
      .first<{ hash: string }>();
    expect(stored!.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(text).not.toContain(stored!.hash);
    expect(text).not.toMatch(/"hash"/);
  });

  it("stores only the SHA-256 of the key", async () => {
    const { apiKey, key } = await accountWithKey();
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
    const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
    const row = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?").bind(apiKey.id).first();
    expect(row!.hash).toBe(hex);
    expect(JSON.stringify(row)).not.toContain(key);
  });

  it("validates: name 1–100, scopes shape, metadata ≤ 1 KiB, expiry in the future, one of the two", async () => {
    const account = await createAccount();
    const cases: [unknown, string][] = [
      [{}, "name"],
      [{ name: "" }, "name"],
      [{ name: "x".repeat(101) }, "name"],
      [{ name: "x", scopes: ["not a scope"] }, "scopes.0"],
      [{ name: "x", metadata: { blob: "y".repeat(1100) } }, "metadata"],
      [{ name: "x", metadata: ["array"] }, "metadata"],
      [{ name: "x", expiresAt: "2001-01-01T00:00:00Z" }, "expiresAt"],
      [{ name: "x", expiresAt: "tomorrow" }, "expiresAt"],
      [{ name: "x", expiresInDays: 0 }, "expiresInDays"],
      [{ name: "x", expiresInDays: 1, expiresAt: new Date(Date.now() + 1e7).toISOString() }, "expiresAt"],
      [{ name: "x", rateLimitPerHour: -1 }, "rateLimitPerHour"],
      [{ name: "x", accountId: "acc_other" }, ""],
    ];
    for (const [body, path] of cases) {
      const res = await call("POST", "/v1/api-keys", { ...asOperator(account.id), body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("validation_failed");
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
  });

  it("expiresInDays and expiresAt set the expiry", async () => {
    const account = await createAccount();
    const before = Date.now();
    const { apiKey } = await createKey(account.id, { expiresInDays: 30 });
    const days = (Date.parse(apiKey.expiresAt) - before) / 86_400_000;
    expect(days).toBeGreaterThan(29.99);
    expect(days).toBeLessThan(30.01);
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const { apiKey: k2 } = await createKey(account.id, { expiresAt: at });
    expect(k2.expiresAt).toBe(at);
  });

  it("a principal cannot grant rights it does not hold", async () => {
    const account = await createAccount();
    const token = await userToken({ accountId: account.id, permissions: ["keys:write"] });
    const ok = await call("POST", "/v1/api-keys", { token, body: { name: "ok", scopes: ["keys:read"] } });
    expect(ok.status).toBe(201);
    expect(ok.body.apiKey.createdBy).toEqual({ type: "user", id: "user_1", name: "user_1" });
    for (const body of [{ name: "x", scopes: ["audit:read"] }, { name: "x" }]) {
      const res = await call("POST", "/v1/api-keys", { token, body });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe("insufficient_scope");
    }
  });
});

describe("plans", () => {
  it("pro: at most 5 active keys, then 409 saying to revoke one; revoked and expired do not count", async () => {
    const account = await createAccount("pro");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createKey(account.id)).apiKey.id);
    const sixth = await call("POST", "/v1/api-keys", { ...asOperator(account.id), body: { name: "six" } });
    expect(sixth.status).toBe(409);
    expect(sixth.body.error.code).toBe("key_limit_reached");
    expect(sixth.body.error.message).toMatch(/revoke one/);
    await call("DELETE", `/v1/api-keys/${ids[0]}`, asOperator(account.id));
    await createKey(account.id);
    await env.DB.prepare("UPDATE api_keys SET expires_at = 1 WHERE id = ?").bind(ids[1]).run();
    await createKey(account.id);
    expect((await call("POST", "/v1/api-keys", { ...asOperator(account.id), body: { name: "x" } })).status).toBe(409);
  });

  it("concurrent creates never overshoot the limit", async () => {
    const account = await createAccount("pro");
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        call("POST", "/v1/api-keys", { ...asOperator(account.id), body: { name: `k${i}` } }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(5);
    expect(results.filter((r) => r.status === 409)).toHaveLength(7);
  });

  it("per-account override of maxActiveKeys", async () => {
    const account = await createAccount("pro");
    await call("PATCH", `/v1/accounts/${account.id}`, { token: ADMIN, body: { limits: { maxActiveKeys: 1 } } });
    await createKey(account.id);
    expect((await call("POST", "/v1/api-keys", { ...asOperator(account.id), body: { name: "x" } })).status).toBe(409);
  });

  it("free: keys can be created, but every key-authenticated call is 403 plan_no_api_access", async () => {
    const account = await createAccount("free");
    const { key } = await createKey(account.id);
    for (const path of ["/v1/whoami", "/v1/api-keys"]) {
      const res = await call("GET", path, { apiKey: key });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe("plan_no_api_access");
    }
    await call("PATCH", `/v1/accounts/${account.id}`, { token: ADMIN, body: { plan: "pro" } });
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(200);
  });
});

describe("list, get, update", () => {
  it("lists newest first with cursor pagination; limit is capped at 100", async () => {
    const account = await createAccount("enterprise");
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await createKey(account.id, { name: `k${i}` })).apiKey.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { apiKeys: { id: string }[]; nextCursor: string | null } } = await call(
        "GET",
        `/v1/api-keys?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
        asOperator(account.id),
      );
      seen.push(...res.body.apiKeys.map((k) => k.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...made].reverse());
    expect((await call("GET", "/v1/api-keys?limit=101", asOperator(account.id))).status).toBe(400);
    expect((await call("GET", "/v1/api-keys?limit=abc", asOperator(account.id))).status).toBe(400);
  });

  it("PATCH changes name, scopes, expiry (null clears), rate limit, metadata, enabled", async () => {
    const { account, apiKey } = await accountWithKey("pro", { expiresInDays: 3 });
    const res = await call("PATCH", `/v1/api-keys/${apiKey.id}`, {
      ...asOperator(account.id),
      body: { name: "renamed", scopes: [], expiresAt: null, rateLimitPerHour: 50, metadata: { a: 1 }, enabled: false },
    });
    expect(res.status).toBe(200);
    expect(res.body.apiKey).toMatchObject({
      name: "renamed",
      scopes: [],
      expiresAt: null,
      rateLimitPerHour: 50,
      metadata: { a: 1 },
      enabled: false,
    });
    const back = await call("PATCH", `/v1/api-keys/${apiKey.id}`, {
      ...asOperator(account.id),
      body: { scopes: null, rateLimitPerHour: null, expiresInDays: 1 },
    });
    expect(back.body.apiKey).toMatchObject({ scopes: null, rateLimitPerHour: null, name: "renamed" });
    expect(back.body.apiKey.expiresAt).not.toBeNull();
  });

  it("PATCH rejects fields that cannot be changed", async () => {
    const { account, apiKey } = await accountWithKey();
    for (const body of [{ accountId: "acc_x" }, { hash: "00" }, { createdAt: "2020-01-01T00:00:00Z" }]) {
      const res = await call("PATCH", `/v1/api-keys/${apiKey.id}`, { ...asOperator(account.id), body });
      expect(res.status).toBe(400);
    }
  });
});

describe("using a key", () => {
  it("lastUsedAt: null, then set by the first use, not rewritten within a minute", async () => {
    const { account, apiKey, key } = await accountWithKey();
    expect(apiKey.lastUsedAt).toBeNull();
    await call("GET", "/v1/whoami", { apiKey: key });
    const first = (await call("GET", `/v1/api-keys/${apiKey.id}`, asOperator(account.id))).body.apiKey.lastUsedAt;
    expect(first).not.toBeNull();
    await call("GET", "/v1/whoami", { apiKey: key });
    const second = (await call("GET", `/v1/api-keys/${apiKey.id}`, asOperator(account.id))).body.apiKey.lastUsedAt;
    expect(second).toBe(first);
  });

  it("lastUsedAt older than a minute is refreshed", async () => {
    const { account, apiKey, key } = await accountWithKey();
    await env.DB.prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
      .bind(Date.now() - 120_000, apiKey.id)
      .run();
    await call("GET", "/v1/whoami", { apiKey: key });
    await expect
      .poll(async () => {
        const got = await call("GET", `/v1/api-keys/${apiKey.id}`, asOperator(account.id));
        return Date.now() - Date.parse(got.body.apiKey.lastUsedAt);
      })
      .toBeLessThan(10_000);
  });

  it("disabled: 401 key_disabled; enabled again: works", async () => {
    const { account, apiKey, key } = await accountWithKey();
    await call("PATCH", `/v1/api-keys/${apiKey.id}`, { ...asOperator(account.id), body: { enabled: false } });
    const res = await call("GET", "/v1/whoami", { apiKey: key });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("key_disabled");
    await call("PATCH", `/v1/api-keys/${apiKey.id}`, { ...asOperator(account.id), body: { enabled: true } });
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(200);
  });

  it("expired: 401 key_expired", async () => {
    const { apiKey, key } = await accountWithKey();
    await env.DB.prepare("UPDATE api_keys SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, apiKey.id)
      .run();
    const res = await call("GET", "/v1/whoami", { apiKey: key });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("key_expired");
  });

  it("an unknown but well-formed key is 401 invalid_credentials", async () => {
    const { key } = await accountWithKey();
    await env.DB.prepare("DELETE FROM api_keys").run();
    const res = await call("GET", "/v1/whoami", { apiKey: key });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("invalid_credentials");
  });

  it("scopes [] means no permissions; scopes never set means full access", async () => {
    const account = await createAccount();
    const none = await createKey(account.id, { scopes: [] });
    const legacy = await createKey(account.id);
    const denied = await call("GET", "/v1/api-keys", { apiKey: none.key });
    expect(denied.status).toBe(403);
    expect((await call("GET", "/v1/whoami", { apiKey: none.key })).body.permissions).toEqual([]);
    expect((await call("POST", "/v1/api-keys", { apiKey: legacy.key, body: { name: "child" } })).status).toBe(201);
  });

  it("keys:read reads but cannot write; keys:write includes read", async () => {
    const account = await createAccount();
    const reader = await createKey(account.id, { scopes: ["keys:read"] });
    const writer = await createKey(account.id, { scopes: ["keys:write"] });
    expect((await call("GET", "/v1/api-keys", { apiKey: reader.key })).status).toBe(200);
    const res = await call("DELETE", `/v1/api-keys/${writer.apiKey.id}`, { apiKey: reader.key });
    expect(res.status).toBe(403);
    expect(res.body.error.details.missing).toEqual(["keys:write"]);
    expect((await call("GET", "/v1/api-keys", { apiKey: writer.key })).status).toBe(200);
  });
});

describe("revoke and rotate", () => {
  it("revoke is immediate and permanent; the key disappears from the API", async () => {
    const { account, apiKey, key } = await accountWithKey();
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(200);
    const del = await call("DELETE", `/v1/api-keys/${apiKey.id}`, asOperator(account.id));
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ success: true });
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(401);
    expect((await call("GET", `/v1/api-keys/${apiKey.id}`, asOperator(account.id))).status).toBe(404);
    expect((await call("DELETE", `/v1/api-keys/${apiKey.id}`, asOperator(account.id))).status).toBe(404);
    expect(
      (await call("PATCH", `/v1/api-keys/${apiKey.id}`, { ...asOperator(account.id), body: { enabled: true } })).status,
    ).toBe(404);
    const row = await env.DB.prepare("SELECT revoked_at FROM api_keys WHERE id = ?").bind(apiKey.id).first();
    expect(row!.revoked_at).not.toBeNull();
  });

  it("a key can revoke itself", async () => {
    const { apiKey, key } = await accountWithKey();
    expect((await call("DELETE", `/v1/api-keys/${apiKey.id}`, { apiKey: key })).status).toBe(200);
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(401);
  });

  it("rotate without grace: new secret works, old one is refused at once", async () => {
    const { account, apiKey, key } = await accountWithKey();
    const res = await call("POST", `/v1/api-keys/${apiKey.id}/rotate`, asOperator(account.id));
    expect(res.status).toBe(200);
    expect(res.body.apiKey.id).toBe(apiKey.id);
    expect(res.body.key).not.toBe(key);
    expect(res.body.apiKey.last4).toBe(res.body.key.slice(-4));
    expect((await call("GET", "/v1/whoami", { apiKey: res.body.key })).status).toBe(200);
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(401);
  });

  it("rotate with a grace period: both work until it ends", async () => {
    const { account, apiKey, key } = await accountWithKey();
    const res = await call("POST", `/v1/api-keys/${apiKey.id}/rotate`, {
      ...asOperator(account.id),
      body: { gracePeriodSeconds: 3600 },
    });
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(200);
    expect((await call("GET", "/v1/whoami", { apiKey: res.body.key })).status).toBe(200);
    // The grace period ends by time alone (the record, cached or not, carries its end): step the clock past it.
    const later = compose(env, { waitUntil: () => {} }, { now: () => Date.now() + 3_600_000 + 1_000 });
    expect((await later.auth.verify(key)).code).toBe("NOT_FOUND");
    expect((await later.auth.verify(res.body.key)).code).toBe("VALID");
  });

  it("revoking a key in its grace period refuses both secrets", async () => {
    const { account, apiKey, key } = await accountWithKey();
    const res = await call("POST", `/v1/api-keys/${apiKey.id}/rotate`, {
      ...asOperator(account.id),
      body: { gracePeriodSeconds: 600 },
    });
    await call("DELETE", `/v1/api-keys/${apiKey.id}`, asOperator(account.id));
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(401);
    expect((await call("GET", "/v1/whoami", { apiKey: res.body.key })).status).toBe(401);
  });

  it("grace period is 0 … 604800 seconds", async () => {
    const { account, apiKey } = await accountWithKey();
    for (const gracePeriodSeconds of [-1, 604801, 1.5, "60"]) {
      const res = await call("POST", `/v1/api-keys/${apiKey.id}/rotate`, {
        ...asOperator(account.id),
        body: { gracePeriodSeconds },
      });
      expect(res.status).toBe(400);
    }
    const max = await call("POST", `/v1/api-keys/${apiKey.id}/rotate`, {
      ...asOperator(account.id),
      body: { gracePeriodSeconds: 604800 },
    });
    expect(max.status).toBe(200);
  });
});

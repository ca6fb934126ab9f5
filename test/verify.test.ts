import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, accountWithKey, call, createAccount, createKey, userToken } from "./helpers/api";

const verify = (body: unknown, opts: { token?: string; apiKey?: string } = { token: ADMIN }) =>
  call("POST", "/v1/keys/verify", { ...opts, body });

describe("POST /v1/keys/verify", () => {
  it("VALID: the key's identity, permissions, rate limit, expiry and metadata", async () => {
    const { account, apiKey, key } = await accountWithKey("pro", {
      scopes: ["audits:read"],
      metadata: { plan: "gold" },
      expiresInDays: 10,
      rateLimitPerHour: 50,
    });
    const res = await verify({ key, scopes: ["audits:read"] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      valid: true,
      code: "VALID",
      keyId: apiKey.id,
      accountId: account.id,
      name: "test key",
      scopes: ["audits:read"],
      expiresAt: apiKey.expiresAt,
      metadata: { plan: "gold" },
      ratelimit: { limit: 50, remaining: 49 },
    });
    expect(res.body.ratelimit.reset).toBe(Math.ceil((Math.floor(Date.now() / 3_600_000) + 1) * 3600));
  });

  it("MALFORMED and NOT_FOUND", async () => {
    const { key } = await accountWithKey();
    expect((await verify({ key: "kh_live_nope" })).body).toMatchObject({
      valid: false,
      code: "MALFORMED",
      keyId: null,
    });
    // A key of any other shape is looked up by its hash (an Unkey API's, imported): not found.
    expect((await verify({ key: "something else" })).body.code).toBe("NOT_FOUND");
    await env.DB.prepare("DELETE FROM api_keys").run();
    expect((await verify({ key })).body).toMatchObject({ valid: false, code: "NOT_FOUND" });
  });

  it("EXPIRED, DISABLED, REVOKED, PLAN_BLOCKED", async () => {
    const account = await createAccount("pro");
    const op = { token: ADMIN, accountId: account.id };
    const expired = await createKey(account.id);
    await env.DB.prepare("UPDATE api_keys SET expires_at = 1 WHERE id = ?").bind(expired.apiKey.id).run();
    expect((await verify({ key: expired.key })).body).toMatchObject({
      valid: false,
      code: "EXPIRED",
      keyId: expired.apiKey.id,
    });
    const disabled = await createKey(account.id);
    await call("PATCH", `/v1/api-keys/${disabled.apiKey.id}`, { ...op, body: { enabled: false } });
    expect((await verify({ key: disabled.key })).body.code).toBe("DISABLED");
    const revoked = await createKey(account.id);
    await call("DELETE", `/v1/api-keys/${revoked.apiKey.id}`, op);
    expect((await verify({ key: revoked.key })).body.code).toBe("REVOKED");
    const free = await createAccount("free");
    const blocked = await createKey(free.id);
    expect((await verify({ key: blocked.key })).body.code).toBe("PLAN_BLOCKED");
  });

  it("INSUFFICIENT_SCOPE when the key lacks a requested scope", async () => {
    const { key } = await accountWithKey("pro", { scopes: ["keys:read"] });
    const res = await verify({ key, scopes: ["keys:write"] });
    expect(res.body).toMatchObject({ valid: false, code: "INSUFFICIENT_SCOPE", scopes: ["keys:read"] });
    expect((await verify({ key, scopes: ["keys:read"] })).body.code).toBe("VALID");
  });

  it("counts toward the key's limit; an exhausted key verifies as RATE_LIMITED", async () => {
    const { key } = await accountWithKey("pro", { rateLimitPerHour: 2 });
    expect((await verify({ key })).body.ratelimit.remaining).toBe(1);
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(200);
    const res = await verify({ key });
    expect(res.body).toMatchObject({ valid: false, code: "RATE_LIMITED", ratelimit: { limit: 2, remaining: 0 } });
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(429);
  });

  it("needs keys:verify; a non-operator caller only finds keys of its own account", async () => {
    const a = await createAccount();
    const b = await createAccount();
    const verifier = await createKey(a.id, { scopes: ["keys:verify"] });
    const own = await createKey(a.id);
    const foreign = await createKey(b.id);
    const noScope = await createKey(a.id, { scopes: ["keys:read"] });
    expect((await verify({ key: own.key }, { apiKey: verifier.key })).body.code).toBe("VALID");
    const other = await verify({ key: foreign.key }, { apiKey: verifier.key });
    expect(other.body).toMatchObject({ valid: false, code: "NOT_FOUND", keyId: null, accountId: null });
    const denied = await verify({ key: own.key }, { apiKey: noScope.key });
    expect(denied.status).toBe(403);
    expect(denied.body.error.details.missing).toEqual(["keys:verify"]);
    const jwt = await userToken({ accountId: b.id, permissions: ["keys:verify"] });
    expect((await verify({ key: foreign.key }, { token: jwt })).body.code).toBe("VALID");
    expect((await verify({ key: own.key }, { token: jwt })).body.code).toBe("NOT_FOUND");
    expect((await verify({ key: foreign.key })).body.code).toBe("VALID"); // the operator: any account
  });

  it("bad bodies are 400", async () => {
    for (const body of [{}, { key: "" }, { key: "x", scopes: "keys:read" }, { key: "x", extra: 1 }]) {
      expect((await verify(body)).status).toBe(400);
    }
  });
});

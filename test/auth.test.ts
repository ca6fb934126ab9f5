import { env } from "cloudflare:workers";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { ADMIN, accountWithKey, call, createAccount, createKey, userToken } from "./helpers/api";

const b64url = (o: unknown) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");

describe("credentials", () => {
  it("no credentials: 401 missing_credentials", async () => {
    const res = await call("GET", "/v1/whoami");
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("missing_credentials");
  });

  it("a wrong operator token: 401 invalid_credentials", async () => {
    const res = await call("GET", "/v1/accounts", { token: "not-the-admin-token" });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("invalid_credentials");
  });

  it("operator whoami has every permission and the named account", async () => {
    const res = await call("GET", "/v1/whoami", { token: ADMIN, accountId: "acc_x" });
    expect(res.body).toEqual({
      type: "operator",
      id: "operator",
      name: "Operator",
      accountId: "acc_x",
      permissions: ["*"],
      onBehalfOf: null,
    });
  });

  it("a key works as Bearer and as X-API-Key", async () => {
    const { key, apiKey } = await accountWithKey();
    for (const opts of [{ token: key }, { apiKey: key }]) {
      const res = await call("GET", "/v1/whoami", opts);
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(apiKey.id);
    }
  });

  it("a key in the query string is refused unless ALLOW_KEY_IN_QUERY", async () => {
    const { key } = await accountWithKey();
    const res = await call("GET", `/v1/whoami?api_key=${key}`);
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/query string/);
  });

  it("a malformed key (bad checksum) is 401 invalid_credentials", async () => {
    const { key } = await accountWithKey();
    const bad = key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");
    const res = await call("GET", "/v1/whoami", { apiKey: bad });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("invalid_credentials");
  });

  it("a malformed Authorization header is 401", async () => {
    const res = await call("GET", "/v1/whoami", { headers: { authorization: "Basic abc" } });
    expect(res.status).toBe(401);
  });
});

describe("user JWTs", () => {
  it("admin role: every permission in its account", async () => {
    const account = await createAccount();
    const token = await userToken({ accountId: account.id, role: "admin", sub: "u_1", name: "Ada" });
    const res = await call("GET", "/v1/whoami", { token });
    expect(res.body).toEqual({
      type: "user",
      id: "u_1",
      name: "Ada",
      accountId: account.id,
      permissions: ["*"],
      onBehalfOf: null,
    });
  });

  it("member role: only its permissions claim", async () => {
    const account = await createAccount();
    const token = await userToken({ accountId: account.id, permissions: ["keys:read"] });
    expect((await call("GET", "/v1/api-keys", { token })).status).toBe(200);
    const denied = await call("POST", "/v1/api-keys", { token, body: { name: "x", scopes: [] } });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: "insufficient_scope", details: { missing: ["keys:write"] } });
    expect(denied.body.error.message).toContain("keys:write");
  });

  it("bad signature, alg none, expired, missing exp: 401", async () => {
    const account = await createAccount();
    const wrongSecret = await userToken({ accountId: account.id }, "another-secret-entirely-0123456789");
    const expired = await userToken({ accountId: account.id, exp: Math.floor(Date.now() / 1000) - 10 });
    const noExp = await userToken({ accountId: account.id, exp: null });
    const payload = { sub: "u", account_id: account.id, role: "admin", exp: Math.floor(Date.now() / 1000) + 60 };
    const none = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(payload)}.`;
    const hs512 = await sign(payload, env.JWT_SECRET, "HS512");
    for (const token of [wrongSecret, expired, noExp, none, hs512]) {
      const res = await call("GET", "/v1/whoami", { token });
      expect(res.status, token).toBe(401);
      expect(res.body.error.code).toBe("invalid_credentials");
    }
    const exp = await call("GET", "/v1/whoami", { token: expired });
    expect(exp.body.error.message).toMatch(/expired/);
  });

  it("claims must be well formed (role)", async () => {
    const token = await sign(
      { sub: "u", account_id: "acc_1", role: "owner", exp: Math.floor(Date.now() / 1000) + 60 },
      env.JWT_SECRET,
      "HS256",
    );
    expect((await call("GET", "/v1/whoami", { token })).status).toBe(401);
  });
});

describe("operator and accounts", () => {
  it("operator routes need the operator", async () => {
    const { key, account } = await accountWithKey();
    const jwt = await userToken({ accountId: account.id, role: "admin" });
    for (const token of [key, jwt]) {
      const res = await call("GET", "/v1/accounts", { token });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe("insufficient_scope");
    }
  });

  it("operator acting in an account: X-Account-Id missing is 400, unknown is 404", async () => {
    const missing = await call("GET", "/v1/api-keys", { token: ADMIN });
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe("missing_account");
    const unknown = await call("GET", "/v1/api-keys", { token: ADMIN, accountId: "acc_nope" });
    expect(unknown.status).toBe(404);
  });

  it("accounts: create, get, list with pagination, patch plan and overrides", async () => {
    const a = await createAccount("pro", "First");
    const b = await createAccount("enterprise", "Second");
    expect(b).toMatchObject({
      plan: "enterprise",
      limits: { apiAccess: true, maxActiveKeys: 50, rateLimitPerHour: 10000 },
    });
    const got = await call("GET", `/v1/accounts/${a.id}`, { token: ADMIN });
    expect(got.body.account).toMatchObject({ id: a.id, name: "First", plan: "pro" });
    const page1 = await call("GET", "/v1/accounts?limit=1", { token: ADMIN });
    expect(page1.body.accounts).toHaveLength(1);
    expect(page1.body.nextCursor).toBe(page1.body.accounts[0].id);
    const page2 = await call("GET", `/v1/accounts?limit=1&cursor=${page1.body.nextCursor}`, { token: ADMIN });
    expect(page2.body.accounts[0].id).not.toBe(page1.body.accounts[0].id);
    const patched = await call("PATCH", `/v1/accounts/${a.id}`, {
      token: ADMIN,
      body: { plan: "enterprise", limits: { maxActiveKeys: 7 } },
    });
    expect(patched.body.account).toMatchObject({
      plan: "enterprise",
      limits: { maxActiveKeys: 7, rateLimitPerHour: 10000 },
      overrides: { maxActiveKeys: 7, rateLimitPerHour: null },
    });
    const cleared = await call("PATCH", `/v1/accounts/${a.id}`, {
      token: ADMIN,
      body: { limits: { maxActiveKeys: null } },
    });
    expect(cleared.body.account.limits.maxActiveKeys).toBe(50);
  });

  it("account validation: unknown plan, unknown field, empty name", async () => {
    for (const body of [{ name: "x", plan: "gold" }, { name: "x", id: "acc_mine" }, { name: "" }]) {
      const res = await call("POST", "/v1/accounts", { token: ADMIN, body });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("validation_failed");
      expect(res.body.error.details[0].path).toBeTypeOf("string");
    }
    expect((await call("GET", "/v1/accounts/acc_missing", { token: ADMIN })).status).toBe(404);
  });

  it("a user of an account that does not exist cannot create keys (404, not 500)", async () => {
    const token = await userToken({ accountId: "acc_ghost", role: "admin" });
    const res = await call("POST", "/v1/api-keys", { token, body: { name: "x" } });
    expect(res.status).toBe(404);
  });

  it("the key created by an operator records its creator", async () => {
    const account = await createAccount();
    const { apiKey } = await createKey(account.id);
    expect(apiKey.createdBy).toEqual({ type: "operator", id: "operator", name: "Operator" });
  });
});

describe("GET /v1/account", () => {
  it("any principal reads its own account and plan limits", async () => {
    const { account, key } = await accountWithKey("enterprise");
    const jwt = await userToken({ accountId: account.id, permissions: [] });
    for (const opts of [{ apiKey: key }, { token: jwt }, { token: ADMIN, accountId: account.id }]) {
      const res = await call("GET", "/v1/account", opts);
      expect(res.status).toBe(200);
      expect(res.body.account).toMatchObject({
        id: account.id,
        plan: "enterprise",
        limits: { rateLimitPerHour: 10000 },
      });
    }
    expect((await call("GET", "/v1/account", { token: ADMIN })).status).toBe(400);
  });
});

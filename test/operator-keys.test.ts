import { exports } from "cloudflare:workers";
import { ApiException, Svix } from "svix";
import { describe, expect, it } from "vitest";
import { ADMIN, BASE, call, createAccount } from "./helpers/api";
import { uniqueName } from "./helpers/webhooks";

async function operatorKey(body: Record<string, unknown> = {}, token = ADMIN) {
  const res = await call("POST", "/v1/deployment/operator-keys", { token, body: { name: uniqueName(), ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { operatorKey: { id: string; [k: string]: any }; key: string };
}

const svix = (token: string) =>
  new Svix(token, {
    serverUrl: BASE,
    fetch: ((input: RequestInfo | URL, init?: RequestInit) =>
      exports.default.fetch(new Request(input, init))) as typeof fetch,
  });

async function deploymentLog(targetId: string) {
  const res = await call("GET", `/v1/deployment/audit-log?targetId=${targetId}&limit=100`, { token: ADMIN });
  expect(res.status).toBe(200);
  return res.body.entries as Array<{ action: string; actor: { type: string; id: string }; changes: any }>;
}

describe("operator keys: the operator's revocable credentials", () => {
  it("a full key does what the operator token does: operator routes, an account's routes, the Svix API", async () => {
    const { operatorKey: record, key } = await operatorKey();
    expect(key).toMatch(/^kh_op_[0-9A-Za-z]{38}$/);
    expect(record).toMatchObject({ scopes: ["*"], status: "active", prefix: key.slice(0, 10), last4: key.slice(-4) });
    expect(JSON.stringify(record)).not.toContain(key.slice(6));

    const made = await call("POST", "/v1/accounts", { token: key, body: { name: "By a key", plan: "pro" } });
    expect(made.status).toBe(201);
    const hook = await call("POST", "/v1/webhooks", {
      token: key,
      accountId: made.body.account.id,
      body: { url: "https://example.com/hook", events: ["*"] },
    });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);
    const app = await svix(key).application.create({ name: "Svix app", uid: uniqueName() });
    expect(app.id).toMatch(/^acc_/);

    // What it did is the key's, in the account's log.
    const audit = await call("GET", `/v1/audit-log?targetId=${hook.body.webhook.id}`, {
      token: ADMIN,
      accountId: made.body.account.id,
    });
    expect(audit.body.entries[0].actor).toEqual({ type: "operator", id: record.id, name: record.name });
  });

  it("scopes: a read key reads and changes nothing; account routes need the account permission", async () => {
    const account = await createAccount();
    const { key } = await operatorKey({ scopes: ["operator:read", "webhooks:read"] });
    expect((await call("GET", "/v1/accounts", { token: key })).status).toBe(200);
    const refused = await call("POST", "/v1/accounts", { token: key, body: { name: "No", plan: "pro" } });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: "insufficient_scope", details: { missing: ["operator:write"] } });
    expect((await call("GET", "/v1/webhooks", { token: key, accountId: account.id })).status).toBe(200);
    expect((await call("GET", "/v1/api-keys", { token: key, accountId: account.id })).status).toBe(403);
    const svixRefusal = await svix(key)
      .application.create({ name: "No" })
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect(svixRefusal).toBeInstanceOf(ApiException);
    expect((svixRefusal as ApiException<any>).code).toBe(403);
    expect((await svix(key).application.list()).data).toBeInstanceOf(Array);
  });

  it("no one grants what they do not hold: a scoped key cannot make a wider key, nor revoke one", async () => {
    const { key } = await operatorKey({ scopes: ["operator:write"] });
    const wider = await call("POST", "/v1/deployment/operator-keys", {
      token: key,
      body: { name: "w", scopes: ["*"] },
    });
    expect(wider.status).toBe(403);
    expect(wider.body.error.code).toBe("insufficient_scope");
    const narrower = await operatorKey({ scopes: ["operator:read"] }, key);
    expect(narrower.operatorKey.createdBy.type).toBe("operator");
    const full = await operatorKey();
    const revoke = await call("DELETE", `/v1/deployment/operator-keys/${full.operatorKey.id}`, { token: key });
    expect(revoke.status).toBe(403);
    expect((await call("GET", "/v1/accounts", { token: full.key })).status).toBe(200);
  });

  it("revoked: refused from the next request on, with requests in flight around the revocation", async () => {
    const { operatorKey: record, key } = await operatorKey();
    const during = Array.from({ length: 20 }, () => call("GET", "/v1/accounts?limit=1", { token: key }));
    const revoked = await call("DELETE", `/v1/deployment/operator-keys/${record.id}`, { token: ADMIN });
    expect(revoked.status).toBe(200);
    expect(revoked.body.operatorKey).toMatchObject({ status: "revoked" });
    for (const answer of await Promise.all(during)) expect([200, 401]).toContain(answer.status);
    const after = await Promise.all(Array.from({ length: 20 }, () => call("GET", "/v1/accounts", { token: key })));
    for (const answer of after) {
      expect(answer.status).toBe(401);
      expect(answer.body.error.message).toBe("This operator key is revoked");
    }
    const refused = await svix(key)
      .application.list()
      .then(
        () => null,
        (err: ApiException<unknown>) => err,
      );
    expect(refused?.code).toBe(401);
    // The record stays, marked; revoking again changes nothing; it cannot be changed back.
    const again = await call("DELETE", `/v1/deployment/operator-keys/${record.id}`, { token: ADMIN });
    expect(again.body.operatorKey.revokedAt).toBe(revoked.body.operatorKey.revokedAt);
    const patch = await call("PATCH", `/v1/deployment/operator-keys/${record.id}`, {
      token: ADMIN,
      body: { scopes: ["*"] },
    });
    expect(patch.status).toBe(409);
  });

  it("scopes changed apply on the next request; an expired key is refused", async () => {
    const { operatorKey: record, key } = await operatorKey({ scopes: ["operator:write"] });
    expect((await call("POST", "/v1/accounts", { token: key, body: { name: "Yes", plan: "pro" } })).status).toBe(201);
    const narrowed = await call("PATCH", `/v1/deployment/operator-keys/${record.id}`, {
      token: ADMIN,
      body: { scopes: ["operator:read"], name: "read only now" },
    });
    expect(narrowed.status).toBe(200);
    expect((await call("POST", "/v1/accounts", { token: key, body: { name: "No", plan: "pro" } })).status).toBe(403);

    const soon = await operatorKey({ expiresAt: new Date(Date.now() + 1500).toISOString() });
    expect((await call("GET", "/v1/accounts", { token: soon.key })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1600));
    const expired = await call("GET", "/v1/accounts", { token: soon.key });
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toBe("This operator key is expired");
  });

  it("audited in the deployment's log: created, updated, revoked, by whom, with the change", async () => {
    const { operatorKey: record } = await operatorKey({ scopes: ["operator:read"] });
    await call("PATCH", `/v1/deployment/operator-keys/${record.id}`, { token: ADMIN, body: { name: "renamed" } });
    await call("DELETE", `/v1/deployment/operator-keys/${record.id}`, { token: ADMIN });
    const entries = await deploymentLog(record.id);
    expect(entries.map((e) => e.action)).toEqual([
      "operator_key.revoked",
      "operator_key.updated",
      "operator_key.created",
    ]);
    for (const e of entries) expect(e.actor).toMatchObject({ type: "operator", id: "operator" });
    expect(entries[1]?.changes).toEqual({ name: { before: record.name, after: "renamed" } });
    expect(entries[2]?.changes.scopes).toEqual({ before: null, after: ["operator:read"] });
    const listed = await call("GET", "/v1/deployment/operator-keys?limit=100", { token: ADMIN });
    expect(listed.body.operatorKeys.find((k: { id: string }) => k.id === record.id)).toMatchObject({
      status: "revoked",
      name: "renamed",
    });
  });

  it("bad input: clear errors, never a 500; made-up keys never authenticate", async () => {
    const cases: Array<[string, string, unknown, number]> = [
      ["POST", "/v1/deployment/operator-keys", { name: "" }, 400],
      ["POST", "/v1/deployment/operator-keys", { name: "x", scopes: ["NOT A SCOPE"] }, 400],
      ["POST", "/v1/deployment/operator-keys", { name: "x", scopes: [] }, 400],
      ["POST", "/v1/deployment/operator-keys", { name: "x", expiresAt: "2001-01-01T00:00:00Z" }, 400],
      ["POST", "/v1/deployment/operator-keys", { name: "x", extra: 1 }, 400],
      ["PATCH", "/v1/deployment/operator-keys/opk_nope", { name: "x" }, 404],
      ["DELETE", "/v1/deployment/operator-keys/opk_nope", undefined, 404],
      ["GET", "/v1/deployment/operator-keys/opk_nope", undefined, 404],
    ];
    for (const [method, path, body, status] of cases) {
      const res = await call(method, path, { token: ADMIN, body });
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(status);
      expect(res.body.error.code).toEqual(expect.any(String));
    }
    const { key } = await operatorKey();
    const madeUp = [`${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`, "kh_op_short", `kh_op_${"x".repeat(38)}`];
    for (const token of madeUp) {
      const res = await call("GET", "/v1/accounts", { token });
      expect(res.status).toBe(401);
    }
    // An account's API key is never an operator credential.
    const account = await createAccount();
    const apiKey = await call("POST", "/v1/api-keys", { token: key, accountId: account.id, body: { name: "k" } });
    expect((await call("GET", "/v1/deployment/operator-keys", { token: apiKey.body.key })).status).toBe(403);
  });
});

import { env, exports } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { type KeyhookBinding, type KeyVerdict, keyhookAuth } from "../src/sdk/middleware";
import { ADMIN, accountWithKey, call, createAccount } from "./helpers/api";
import { createWebhook, uniqueName, waitForReceived } from "./helpers/webhooks";

// The loopback service binding to our own named entrypoint: what another Worker's binding gets.
// Typed as another Worker would type its binding (the generated RPC types cannot express `unknown`).
const rpc = exports.KeyhookRpc as unknown as KeyhookBinding;

describe("KeyhookRpc (service binding)", () => {
  it("verify answers as POST /v1/keys/verify does", async () => {
    const { account, apiKey, key } = await accountWithKey("pro", { scopes: ["invoices:read"] });
    const ok = await rpc.verify(key, ["invoices:read"]);
    expect(ok).toMatchObject({
      valid: true,
      code: "VALID",
      keyId: apiKey.id,
      accountId: account.id,
      ratelimit: { limit: 100, remaining: 99 },
    });
    expect((await rpc.verify(key, ["invoices:write"])).code).toBe("INSUFFICIENT_SCOPE");
    expect((await rpc.verify("kh_live_bogus")).code).toBe("MALFORMED");
  });

  it("verify understands OAuth access tokens, and keyhookAuth lets them through", async () => {
    const account = await createAccount();
    const created = await call("POST", "/v1/oauth-clients", {
      token: ADMIN,
      accountId: account.id,
      body: { name: "Billing sync", scopes: ["invoices:read"] },
    });
    const granted = await call("POST", "/oauth/token", {
      headers: {
        authorization: `Basic ${btoa(`${created.body.client.id}:${created.body.clientSecret}`)}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
    const token = granted.body.access_token as string;
    expect(await rpc.verify(token, ["invoices:read"])).toMatchObject({
      valid: true,
      code: "VALID",
      keyId: null,
      accountId: account.id,
      name: "Billing sync",
      scopes: ["invoices:read"],
      oauth: { clientId: created.body.client.id, userId: null },
    });
    expect((await rpc.verify(token, ["invoices:write"])).code).toBe("INSUFFICIENT_SCOPE");
    // One character changed (never to itself: a token may already end in the letter chosen).
    const altered = `${token.slice(0, -1)}${token.endsWith("x") ? "y" : "x"}`;
    expect((await rpc.verify(altered)).code).toBe("NOT_FOUND");
    const app = new Hono<{ Bindings: { KEYHOOK: KeyhookBinding } }>()
      .use("/api/*", keyhookAuth({ binding: "KEYHOOK", scopes: ["invoices:read"] }))
      .get("/api/invoices", (c) => c.json({ by: (c.var as { keyhook: KeyVerdict }).keyhook.oauth }));
    const res = await app.request("/api/invoices", { headers: { authorization: `Bearer ${token}` } }, { KEYHOOK: rpc });
    expect(await res.json()).toEqual({ by: { clientId: created.body.client.id, userId: null } });
  });

  it("publish goes through the same path as POST /v1/events", async () => {
    const account = await createAccount();
    const name = uniqueName();
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}`, events: ["order.paid"] });
    const published = await rpc.publish(account.id, { type: "order.paid", entity: { id: "o_1" } });
    if (!("event" in published)) throw new Error(JSON.stringify(published));
    expect(published.event).toMatchObject({ type: "order.paid", accountId: account.id });
    expect(published.deliveries).toHaveLength(1);
    const [req] = await waitForReceived(name, 1);
    expect(JSON.parse(req!.body).entity).toEqual({ id: "o_1" });
    expect(await rpc.publish(account.id, { type: "Bad Type", entity: {} })).toMatchObject({
      error: { code: "validation_failed", details: [{ path: "type" }] },
    });
    expect(await rpc.publish("acc_missing", { type: "a.b", entity: {} })).toMatchObject({
      error: { code: "not_found" },
    });
  });

  it("publish refuses an entity over 1 MiB exactly as POST /v1/events does", async () => {
    const account = await createAccount();
    const entity = { blob: "x".repeat(1_050_000) };
    const overRpc = await rpc.publish(account.id, { type: "order.paid", entity });
    const overHttp = await call("POST", "/v1/events", {
      token: ADMIN,
      accountId: account.id,
      body: { type: "order.paid", entity },
    });
    expect(overHttp.status).toBe(413);
    // The same code (413 over HTTP, where the body limit speaks first); the same rule.
    expect(overHttp.body.error.code).toBe("payload_too_large");
    expect(overRpc).toMatchObject({ error: { code: "payload_too_large", message: expect.stringContaining("1 MiB") } });
    // Just under the limit goes through both doors.
    const fits = { blob: "x".repeat(60_000) };
    expect(await rpc.publish(account.id, { type: "order.paid", entity: fits })).toHaveProperty("event");
    expect(
      (
        await call("POST", "/v1/events", {
          token: ADMIN,
          accountId: account.id,
          body: { type: "order.paid", entity: fits },
        })
      ).status,
    ).toBe(202);
  });
});

describe("keyhookAuth middleware for other Workers", () => {
  const api = new Hono<{ Bindings: { KEYHOOK: typeof rpc }; Variables: { keyhook: KeyVerdict } }>()
    .use("/invoices/*", keyhookAuth({ binding: "KEYHOOK", scopes: ["invoices:read"] }))
    .get("/invoices/mine", (c) => c.json({ account: c.var.keyhook.accountId, key: c.var.keyhook.name }));
  const get = (headers: Record<string, string>) => api.request("/invoices/mine", { headers }, { KEYHOOK: rpc });

  it("lets a key with the scope through, with its identity", async () => {
    const { account, key } = await accountWithKey("pro", { name: "Billing bot", scopes: ["invoices:read"] });
    const res = await get({ "x-api-key": key });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ account: account.id, key: "Billing bot" });
    expect(res.headers.get("x-ratelimit-limit")).toBe("100");
    expect((await get({ authorization: `Bearer ${key}` })).status).toBe(200);
  });

  it("refuses: no key 401, bad key 401, missing scope 403, spent limit 429", async () => {
    const none = await get({});
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { code: "missing_credentials" } });
    // The codes Keyhook itself answers: a bad key is invalid_credentials, whatever made it bad.
    const bad = await get({ "x-api-key": "kh_live_nope" });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ error: { code: "invalid_credentials", message: "Invalid API key" } });
    const { key: noScope } = await accountWithKey("pro", { scopes: ["orders:read"] });
    const forbidden = await get({ "x-api-key": noScope });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ error: { code: "insufficient_scope" } });
    const { key: tiny } = await accountWithKey("pro", { scopes: ["invoices:read"], rateLimitPerHour: 1 });
    expect((await get({ "x-api-key": tiny })).status).toBe(200);
    const limited = await get({ "x-api-key": tiny });
    expect(limited.status).toBe(429);
    expect(await limited.clone().json()).toMatchObject({ error: { code: "rate_limited" } });
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});

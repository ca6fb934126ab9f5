import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/http/app";
import { ADMIN, call, createAccount, createKey } from "./helpers/api";

describe("smoke", () => {
  it("routes with Hono's RegExpRouter: no route forces the slower TrieRouter onto every request", async () => {
    const app = createApp();
    const ctx = createExecutionContext();
    expect((await app.request("/health", {}, env, ctx)).status).toBe(200);
    await waitOnExecutionContext(ctx);
    expect(app.router.name).toBe("SmartRouter + RegExpRouter");
  });

  it("health answers without auth", async () => {
    const res = await call("GET", "/health");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
  });

  it("operator creates an account and a key, the key calls whoami, revoke makes it 401", async () => {
    const account = await createAccount();
    const { apiKey, key } = await createKey(account.id);
    const who = await call("GET", "/v1/whoami", { apiKey: key });
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({ type: "api_key", id: apiKey.id, accountId: account.id });
    const del = await call("DELETE", `/v1/api-keys/${apiKey.id}`, { token: ADMIN, accountId: account.id });
    expect(del.body).toEqual({ success: true });
    const after = await call("GET", "/v1/whoami", { apiKey: key });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe("invalid_credentials");
  });
});

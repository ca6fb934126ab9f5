import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createClient, KeyhookError } from "../src/client/index.ts";
import { ADMIN, BASE, createAccount } from "./helpers/api";

const fetcher = (req: Request) => exports.default.fetch(req);

describe("the typed client", () => {
  it("creates, lists and revokes keys against the running Worker", async () => {
    const account = await createAccount();
    const operator = createClient({ baseUrl: BASE, token: ADMIN, accountId: account.id, fetch: fetcher });
    const created = await operator.POST("/v1/api-keys", { body: { name: "From the client", scopes: ["keys:read"] } });
    expect(created.data?.key).toMatch(/^kh_live_/);
    const asKey = createClient({ baseUrl: BASE, apiKey: created.data!.key, fetch: fetcher });
    const me = await asKey.GET("/v1/whoami");
    expect(me.data).toMatchObject({ type: "api_key", name: "From the client" });
    const listed = await asKey.GET("/v1/api-keys", { params: { query: { limit: 10 } } });
    expect(listed.data?.apiKeys.map((k) => k.name)).toEqual(["From the client"]);
    const id = created.data!.apiKey.id;
    await operator.DELETE("/v1/api-keys/{id}", { params: { path: { id } } });
    await expect(asKey.GET("/v1/whoami")).rejects.toMatchObject({ status: 401, code: "invalid_credentials" });
  });

  it("raises API errors as KeyhookError {status, code, message}", async () => {
    const account = await createAccount();
    const operator = createClient({ baseUrl: BASE, token: ADMIN, accountId: account.id, fetch: fetcher });
    const err = await operator.POST("/v1/api-keys", { body: { name: "" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyhookError);
    expect(err).toMatchObject({ status: 400, code: "validation_failed", details: [{ path: "name" }] });
    expect((err as KeyhookError).message).toMatch(/name/);
  });
});

import { describe, expect, it } from "vitest";
import { ADMIN, call, createAccount, createKey, userToken } from "./helpers/api";

async function profile(accountId: string, body: Record<string, unknown>) {
  const res = await call("POST", "/v1/permission-profiles", { token: ADMIN, accountId, body });
  expect(res.status).toBe(201);
  return res.body.profile as { id: string; name: string; permissions: string[] };
}

describe("permission profiles", () => {
  it("create, list, get, patch", async () => {
    const account = await createAccount();
    const op = { token: ADMIN, accountId: account.id };
    const p = await profile(account.id, { name: "Read-only analytics", permissions: ["audits:read", "keys:read"] });
    expect(p).toMatchObject({ name: "Read-only analytics", permissions: ["audits:read", "keys:read"] });
    expect((await call("GET", "/v1/permission-profiles", op)).body.profiles.map((x: { id: string }) => x.id)).toEqual([
      p.id,
    ]);
    expect((await call("GET", `/v1/permission-profiles/${p.id}`, op)).body.profile.name).toBe("Read-only analytics");
    const patched = await call("PATCH", `/v1/permission-profiles/${p.id}`, { ...op, body: { name: "Analytics" } });
    expect(patched.body.profile).toMatchObject({ name: "Analytics", permissions: ["audits:read", "keys:read"] });
    expect(
      (await call("POST", "/v1/permission-profiles", { ...op, body: { name: "x", permissions: ["bad perm"] } })).status,
    ).toBe(400);
  });

  it("a key's profile adds its permissions, and editing the profile changes the key on its next request", async () => {
    const account = await createAccount();
    const p = await profile(account.id, { name: "Readers", permissions: ["keys:read"] });
    const { key, apiKey } = await createKey(account.id, { scopes: [], profileId: p.id });
    expect(apiKey).toMatchObject({ profileId: p.id, permissions: ["keys:read"], badges: ["read_only"] });
    expect((await call("GET", "/v1/api-keys", { apiKey: key })).status).toBe(200);
    await call("PATCH", `/v1/permission-profiles/${p.id}`, {
      token: ADMIN,
      accountId: account.id,
      body: { permissions: [] },
    });
    const after = await call("GET", "/v1/api-keys", { apiKey: key });
    expect(after.status).toBe(403);
    expect((await call("GET", "/v1/whoami", { apiKey: key })).body.permissions).toEqual([]);
  });

  it("a user's profile_id claim adds the profile's permissions", async () => {
    const account = await createAccount();
    const p = await profile(account.id, { name: "Writers", permissions: ["keys:write"] });
    const token = await userToken({ accountId: account.id, permissions: [] });
    expect((await call("GET", "/v1/api-keys", { token })).status).toBe(403);
    const withProfile = await userToken({ accountId: account.id, permissions: [], profileId: p.id });
    expect((await call("GET", "/v1/api-keys", { token: withProfile })).status).toBe(200);
    expect((await call("GET", "/v1/whoami", { token: withProfile })).body.permissions).toEqual(["keys:write"]);
  });

  it("delete: 409 while a live key uses it, then 200 once it is revoked", async () => {
    const account = await createAccount();
    const op = { token: ADMIN, accountId: account.id };
    const p = await profile(account.id, { name: "In use", permissions: ["keys:read"] });
    const { apiKey } = await createKey(account.id, { scopes: [], profileId: p.id });
    const conflict = await call("DELETE", `/v1/permission-profiles/${p.id}`, op);
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe("conflict");
    await call("DELETE", `/v1/api-keys/${apiKey.id}`, op);
    expect((await call("DELETE", `/v1/permission-profiles/${p.id}`, op)).body).toEqual({ success: true });
    expect((await call("GET", `/v1/permission-profiles/${p.id}`, op)).status).toBe(404);
  });

  it("a profile id of another account cannot be attached", async () => {
    const a = await createAccount();
    const b = await createAccount();
    const foreign = await profile(b.id, { name: "B's", permissions: ["*"] });
    const res = await call("POST", "/v1/api-keys", {
      token: ADMIN,
      accountId: a.id,
      body: { name: "x", profileId: foreign.id },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].path).toBe("profileId");
  });

  it("nobody grants through a profile what they do not hold", async () => {
    const account = await createAccount();
    const p = await profile(account.id, { name: "Everything", permissions: ["*"] });
    const member = await userToken({ accountId: account.id, permissions: ["keys:write"] });
    const res = await call("POST", "/v1/api-keys", { token: member, body: { name: "x", scopes: [], profileId: p.id } });
    expect(res.status).toBe(403);
    const create = await call("POST", "/v1/permission-profiles", {
      token: member,
      body: { name: "y", permissions: ["audit:read"] },
    });
    expect(create.status).toBe(403);
  });
});

describe("badges", () => {
  it("no permissions, can impersonate, read-only", async () => {
    const account = await createAccount("enterprise");
    const none = await createKey(account.id, { scopes: [] });
    const imp = await createKey(account.id, { scopes: ["impersonate", "keys:read"] });
    const ro = await createKey(account.id, { scopes: ["keys:read", "audits:read"] });
    const rw = await createKey(account.id, { scopes: ["keys:write"] });
    const legacy = await createKey(account.id);
    expect(none.apiKey.badges).toEqual(["no_permissions"]);
    expect(imp.apiKey.badges).toEqual(["can_impersonate"]);
    expect(ro.apiKey.badges).toEqual(["read_only"]);
    expect(rw.apiKey.badges).toEqual([]);
    expect(legacy.apiKey.badges).toEqual(["can_impersonate"]);
    const listed = await call("GET", "/v1/api-keys", { token: ADMIN, accountId: account.id });
    const byId = Object.fromEntries(listed.body.apiKeys.map((k: { id: string; badges: string[] }) => [k.id, k.badges]));
    expect(byId[none.apiKey.id]).toEqual(["no_permissions"]);
    expect(byId[ro.apiKey.id]).toEqual(["read_only"]);
  });
});

describe("impersonation", () => {
  it("a key with impersonate acts as a user: whoami and the audit log show both", async () => {
    const account = await createAccount();
    const { key, apiKey } = await createKey(account.id, {
      name: "Support bot",
      scopes: ["impersonate", "keys:write", "audit:read"],
    });
    const who = await call("GET", "/v1/whoami", { apiKey: key, headers: { "x-act-as": "user_42" } });
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({
      type: "api_key",
      id: apiKey.id,
      name: "Support bot",
      onBehalfOf: { type: "user", id: "user_42" },
    });
    const created = await call("POST", "/v1/api-keys", {
      apiKey: key,
      headers: { "x-act-as": "user_42" },
      body: { name: "made as user", scopes: [] },
    });
    expect(created.status).toBe(201);
    const log = await call("GET", `/v1/audit-log?targetId=${created.body.apiKey.id}`, { apiKey: key });
    expect(log.body.entries[0]).toMatchObject({
      action: "api_key.created",
      actor: { type: "api_key", id: apiKey.id, name: "Support bot" },
      onBehalfOf: { type: "user", id: "user_42" },
    });
  });

  it("without the permission: 403", async () => {
    const account = await createAccount();
    const { key } = await createKey(account.id, { scopes: ["keys:read"] });
    const res = await call("GET", "/v1/whoami", { apiKey: key, headers: { "x-act-as": "user_42" } });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: "insufficient_scope", details: { missing: ["impersonate"] } });
  });
});

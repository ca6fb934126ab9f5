import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { KeyhookBinding } from "../src/sdk/middleware";
import { ADMIN, call, createAccount, createKey, userToken } from "./helpers/api";

const rpc = exports.KeyhookRpc as unknown as KeyhookBinding;

async function readOnlyProfile(accountId: string) {
  const res = await call("POST", "/v1/permission-profiles", {
    token: ADMIN,
    accountId,
    body: { name: "Read-only", permissions: ["keys:read"] },
  });
  expect(res.status).toBe(201);
  return res.body.profile as { id: string };
}

// The security bug: a key given only a profile was stored with scopes NULL and read as full access.
describe("a key given only a profile holds exactly the profile's permissions", () => {
  it("through HTTP: it can read keys, and cannot create keys or impersonate", async () => {
    const account = await createAccount("enterprise");
    const profile = await readOnlyProfile(account.id);
    const { apiKey, key } = await createKey(account.id, { name: "reader", profileId: profile.id });
    expect(apiKey).toMatchObject({
      scopes: [],
      profileId: profile.id,
      permissions: ["keys:read"],
      badges: ["read_only"],
    });

    expect((await call("GET", "/v1/api-keys", { apiKey: key })).status).toBe(200);
    const create = await call("POST", "/v1/api-keys", { apiKey: key, body: { name: "escalated" } });
    expect(create.status).toBe(403);
    expect(create.body.error).toMatchObject({ code: "insufficient_scope", details: { missing: ["keys:write"] } });
    const actAs = await call("GET", "/v1/whoami", { apiKey: key, headers: { "x-act-as": "user_1" } });
    expect(actAs.status).toBe(403);
    expect(actAs.body.error.details).toEqual({ missing: ["impersonate"] });
    expect((await call("GET", "/v1/whoami", { apiKey: key })).body.permissions).toEqual(["keys:read"]);
  });

  it("through POST /v1/keys/verify and the service binding", async () => {
    const account = await createAccount();
    const profile = await readOnlyProfile(account.id);
    const { key } = await createKey(account.id, { profileId: profile.id });
    for (const verify of [
      async (scopes: string[]) => (await call("POST", "/v1/keys/verify", { token: ADMIN, body: { key, scopes } })).body,
      (scopes: string[]) => rpc.verify(key, scopes),
    ]) {
      expect(await verify(["keys:read"])).toMatchObject({ valid: true, code: "VALID", scopes: ["keys:read"] });
      expect(await verify(["keys:write"])).toMatchObject({ valid: false, code: "INSUFFICIENT_SCOPE" });
      expect(await verify(["impersonate"])).toMatchObject({ valid: false, code: "INSUFFICIENT_SCOPE" });
    }
  });

  it("a key with neither scopes nor a profile keeps full access; an empty list and no profile has none", async () => {
    const account = await createAccount();
    const { apiKey: legacy } = await createKey(account.id, { name: "legacy" });
    expect(legacy).toMatchObject({ scopes: null, profileId: null, permissions: ["*"] });
    const { apiKey: none } = await createKey(account.id, { name: "none", scopes: [] });
    expect(none).toMatchObject({ scopes: [], permissions: [], badges: ["no_permissions"] });
  });

  it("a member may hand out a profile-only key within what they hold (no `*` needed)", async () => {
    const account = await createAccount();
    const profile = await readOnlyProfile(account.id);
    const member = await userToken({ accountId: account.id, permissions: ["keys:write"] });
    const res = await call("POST", "/v1/api-keys", { token: member, body: { name: "x", profileId: profile.id } });
    expect(res.status).toBe(201);
    expect(res.body.apiKey.permissions).toEqual(["keys:read"]);
    const legacy = await call("POST", "/v1/api-keys", { token: member, body: { name: "y" } });
    expect(legacy.status).toBe(403);
  });

  it("PATCH: giving a legacy key a profile narrows it to the profile; explicit scopes stay its own", async () => {
    const account = await createAccount();
    const op = { token: ADMIN, accountId: account.id };
    const profile = await readOnlyProfile(account.id);
    const { apiKey, key } = await createKey(account.id, { name: "legacy" });
    const patched = await call("PATCH", `/v1/api-keys/${apiKey.id}`, { ...op, body: { profileId: profile.id } });
    expect(patched.body.apiKey).toMatchObject({ scopes: [], permissions: ["keys:read"] });
    expect((await call("POST", "/v1/api-keys", { apiKey: key, body: { name: "nope" } })).status).toBe(403);
    const nullScopes = await call("PATCH", `/v1/api-keys/${apiKey.id}`, { ...op, body: { scopes: null } });
    expect(nullScopes.body.apiKey).toMatchObject({ scopes: [], permissions: ["keys:read"] });

    const { apiKey: scoped } = await createKey(account.id, { name: "scoped", scopes: ["audit:read"] });
    const both = await call("PATCH", `/v1/api-keys/${scoped.id}`, { ...op, body: { profileId: profile.id } });
    expect(both.body.apiKey).toMatchObject({ scopes: ["audit:read"], permissions: ["audit:read", "keys:read"] });
  });
});

describe("migration 0001 fixes keys already stored with a profile and no scopes", () => {
  it("sets their scopes to [] with an audit entry by the system, and leaves every other key alone", async () => {
    const account = await createAccount();
    const profile = await readOnlyProfile(account.id);
    const { apiKey: broken, key } = await createKey(account.id, {
      name: "stored before the fix",
      profileId: profile.id,
    });
    const { apiKey: legacy } = await createKey(account.id, { name: "legacy" });
    const { apiKey: scoped } = await createKey(account.id, {
      name: "scoped",
      scopes: ["audit:read"],
      profileId: profile.id,
    });
    // How the bug stored it.
    await env.DB.prepare("UPDATE api_keys SET scopes = NULL WHERE id = ?").bind(broken.id).run();

    const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith("0001_"));
    expect(migration).toBeDefined();
    for (const query of migration!.queries) await env.DB.prepare(query).run();

    const scopesOf = async (id: string) =>
      (await env.DB.prepare("SELECT scopes FROM api_keys WHERE id = ?").bind(id).first<{ scopes: string | null }>())!
        .scopes;
    expect(await scopesOf(broken.id)).toBe("[]");
    expect(await scopesOf(legacy.id)).toBeNull();
    expect(await scopesOf(scoped.id)).toBe('["audit:read"]');
    expect((await call("POST", "/v1/api-keys", { apiKey: key, body: { name: "nope" } })).status).toBe(403);

    const audit = await call("GET", `/v1/audit-log?targetId=${broken.id}`, { token: ADMIN, accountId: account.id });
    const entry = audit.body.entries.find((e: { actor: { type: string } }) => e.actor.type === "system");
    expect(entry).toMatchObject({
      actor: { type: "system", id: "keyhook", name: "Keyhook" },
      action: "api_key.updated",
      target: { type: "api_key", id: broken.id, name: "stored before the fix" },
      changes: { scopes: { before: null, after: [] } },
      requestId: "migration:0001_profile_only_keys",
    });
    expect(entry.id).toMatch(/^aud_[0-9a-hjkmnp-tv-z]{10}[0-9a-f]{14}$/);
    // Newest first: the system entry sorts after the key's creation, by its time-ordered id.
    expect(audit.body.entries[0].id).toBe(entry.id);
    for (const other of [legacy.id, scoped.id]) {
      const entries = (await call("GET", `/v1/audit-log?targetId=${other}`, { token: ADMIN, accountId: account.id }))
        .body.entries;
      expect(entries.map((e: { actor: { type: string } }) => e.actor.type)).not.toContain("system");
    }
  });
});

import { env, exports } from "cloudflare:workers";
import { HTTPClient, Unkey } from "@unkey/api";
import { Overrides, Ratelimit } from "@unkey/ratelimit";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { readSettings } from "../src/config";
import { generateApiKey } from "../src/features/keys/key-format";
import { type UnkeyContext, unkey as unkeyHono } from "../src/sdk/hono";
import { ADMIN, BASE, call, createAccount, createKey } from "./helpers/api";

const settings = readSettings(env);

/** The official client (@unkey/api 2.5.1), pointed at the Worker: only `serverURL` and the root key change. */
function unkey(rootKey: string) {
  return new Unkey({
    rootKey,
    serverURL: BASE,
    httpClient: new HTTPClient({ fetcher: (input, init) => exports.default.fetch(new Request(input, init)) }),
    retryConfig: { strategy: "none" },
  });
}

/**
 * Runs `fn` with the global fetch sending the Worker's own address to the Worker: `@unkey/ratelimit`
 * makes its own client with the global fetch.
 */
async function throughWorker(fn: () => Promise<void>) {
  const original = globalThis.fetch;
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    return request.url.startsWith(BASE) ? exports.default.fetch(request) : original(request);
  }) as typeof fetch;
  try {
    await fn();
  } finally {
    globalThis.fetch = original;
  }
}

/**
 * Windows are aligned on the epoch: a test that must stay in one window starts early in it (it
 * waits out the window's last `margin` ms), so it can fail only by the limit, never by a boundary.
 */
async function earlyInWindow(duration: number, margin = Math.min(2000, duration / 2)) {
  const left = duration - (Date.now() % duration);
  if (left < margin) await new Promise((r) => setTimeout(r, left + 20));
}

/** A workspace: an account, and a root key (a Keyhook key of it with keys:write and keys:verify). */
async function workspace() {
  const account = await createAccount("enterprise");
  const root = await createKey(account.id, {
    name: "root",
    scopes: ["keys:write", "keys:verify"],
    rateLimitPerHour: 100_000,
  });
  return { account, rootKey: root.key, client: unkey(root.key) };
}

describe("the Unkey v2 API: the official @unkey/api@2.5.1 client against Keyhook", () => {
  it("an API and a key; verify through VALID, INSUFFICIENT_PERMISSIONS, USAGE_EXCEEDED, DISABLED, EXPIRED, NOT_FOUND", async () => {
    const { client } = await workspace();
    const { data: api } = await client.apis.createApi({ name: "payments" });
    expect(api.apiId).toMatch(/^api_/);
    expect((await client.apis.getApi({ apiId: api.apiId })).data).toEqual({ id: api.apiId, name: "payments" });

    const { data: made } = await client.keys.createKey({
      apiId: api.apiId,
      prefix: "sk",
      name: "Acme's key",
      externalId: "acme",
      meta: { plan: "gold" },
      permissions: ["documents.read", "documents.write"],
      credits: { remaining: 2 },
    });
    expect(made.key).toMatch(/^sk_[1-9A-HJ-NP-Za-km-z]{20,}$/);
    expect(made.keyId).toMatch(/^key_/);

    let { data: v } = await client.keys.verifyKey({
      key: made.key,
      permissions: "documents.read AND (documents.write OR admin)",
    });
    expect(v).toMatchObject({
      valid: true,
      code: "VALID",
      keyId: made.keyId,
      name: "Acme's key",
      meta: { plan: "gold" },
      credits: 1,
    });
    expect(v.identity).toEqual({ id: expect.stringMatching(/^id_/), externalId: "acme" });
    ({ data: v } = await client.keys.verifyKey({ key: made.key, permissions: "documents.read AND admin" }));
    expect(v).toMatchObject({ valid: false, code: "INSUFFICIENT_PERMISSIONS" });
    // `*` is a character, not a wildcard.
    ({ data: v } = await client.keys.verifyKey({ key: made.key, permissions: "documents.*" }));
    expect(v.code).toBe("INSUFFICIENT_PERMISSIONS");
    ({ data: v } = await client.keys.verifyKey({ key: made.key }));
    expect(v).toMatchObject({ valid: true, credits: 0 });
    ({ data: v } = await client.keys.verifyKey({ key: made.key }));
    expect(v).toMatchObject({ valid: false, code: "USAGE_EXCEEDED" });

    const { data: off } = await client.keys.createKey({ apiId: api.apiId, enabled: false });
    expect((await client.keys.verifyKey({ key: off.key })).data).toMatchObject({ valid: false, code: "DISABLED" });
    const { data: old } = await client.keys.createKey({ apiId: api.apiId, expires: Date.now() + 1500 });
    expect((await client.keys.verifyKey({ key: old.key })).data.code).toBe("VALID");
    await new Promise((r) => setTimeout(r, 1600));
    expect((await client.keys.verifyKey({ key: old.key })).data).toMatchObject({ valid: false, code: "EXPIRED" });
    const unknown = (await client.keys.verifyKey({ key: "sk_notakeyatall" })).data;
    expect(unknown).toEqual({ valid: false, code: "NOT_FOUND" });

    // get, list, whoami, delete.
    const got = (await client.keys.getKey({ keyId: made.keyId })).data;
    expect(got).toMatchObject({ keyId: made.keyId, start: made.key.slice(0, 7), enabled: true, name: "Acme's key" });
    expect(got.permissions).toEqual(["documents.read", "documents.write"]);
    expect((await client.keys.whoami({ key: made.key })).data.keyId).toBe(made.keyId);
    const listed = await client.apis.listKeys({ apiId: api.apiId });
    expect(listed.result.data.map((k) => k.keyId).sort()).toEqual([made.keyId, off.keyId, old.keyId].sort());
    await client.keys.deleteKey({ keyId: made.keyId });
    expect((await client.keys.verifyKey({ key: made.key })).data).toEqual({ valid: false, code: "NOT_FOUND" });
  });

  it("update (null clears), credits, permissions, reroll, deleteApi", async () => {
    const { client, account } = await workspace();
    const accountId = account.id;
    const { data: api } = await client.apis.createApi({ name: "billing" });
    const { data: made } = await client.keys.createKey({
      apiId: api.apiId,
      prefix: "bk",
      name: "first",
      meta: { a: 1 },
      expires: Date.now() + 86_400_000,
      permissions: ["read"],
    });
    await client.keys.updateKey({
      keyId: made.keyId,
      name: "renamed",
      meta: null,
      expires: null,
      externalId: "cust_1",
    });
    const got = (await client.keys.getKey({ keyId: made.keyId })).data;
    expect(got).toMatchObject({ name: "renamed", identity: { externalId: "cust_1" } });
    expect(got.meta).toBeUndefined();
    expect(got.expires).toBeUndefined();
    await client.keys.updateKey({ keyId: made.keyId, enabled: false });
    expect((await client.keys.verifyKey({ key: made.key })).data.code).toBe("DISABLED");
    await client.keys.updateKey({ keyId: made.keyId, enabled: true });

    // Credits: set, increment, decrement; set with null is unlimited.
    expect((await client.keys.updateCredits({ keyId: made.keyId, operation: "set", value: 5 })).data.remaining).toBe(5);
    expect(
      (await client.keys.updateCredits({ keyId: made.keyId, operation: "increment", value: 3 })).data.remaining,
    ).toBe(8);
    expect(
      (await client.keys.updateCredits({ keyId: made.keyId, operation: "decrement", value: 8 })).data.remaining,
    ).toBe(0);
    expect((await client.keys.verifyKey({ key: made.key })).data.code).toBe("USAGE_EXCEEDED");
    expect(
      (await client.keys.updateCredits({ keyId: made.keyId, operation: "set", value: null })).data.remaining,
    ).toBeNull();
    expect((await client.keys.verifyKey({ key: made.key })).data.code).toBe("VALID");

    // Permissions: add, remove, set — matched exactly at the next verify.
    expect(
      (await client.keys.addPermissions({ keyId: made.keyId, permissions: ["write"] })).data.map((p) => p.slug),
    ).toEqual(["read", "write"]);
    expect((await client.keys.verifyKey({ key: made.key, permissions: "read AND write" })).data.valid).toBe(true);
    await client.keys.removePermissions({ keyId: made.keyId, permissions: ["write"] });
    expect((await client.keys.verifyKey({ key: made.key, permissions: "write" })).data.code).toBe(
      "INSUFFICIENT_PERMISSIONS",
    );
    await client.keys.setPermissions({ keyId: made.keyId, permissions: ["admin"] });
    expect((await client.keys.getKey({ keyId: made.keyId })).data.permissions).toEqual(["admin"]);

    // Reroll: a new key with the same settings; the old one is refused at once with expiration 0.
    const { data: rolled } = await client.keys.rerollKey({ keyId: made.keyId, expiration: 0 });
    expect(rolled.keyId).not.toBe(made.keyId);
    expect(rolled.key).toMatch(/^bk_/);
    expect((await client.keys.verifyKey({ key: rolled.key, permissions: "admin" })).data).toMatchObject({
      valid: true,
      name: "renamed",
      identity: { externalId: "cust_1" },
    });
    expect((await client.keys.verifyKey({ key: made.key })).data.code).toBe("NOT_FOUND");
    // With a grace period the old key works until it ends.
    const { data: again } = await client.keys.rerollKey({ keyId: rolled.keyId, expiration: 60_000 });
    expect((await client.keys.verifyKey({ key: rolled.key })).data.valid).toBe(true);
    expect((await client.keys.getKey({ keyId: rolled.keyId })).data.expires).toBeLessThanOrEqual(Date.now() + 60_000);

    // Deleting the API refuses its keys from the next request on.
    await client.apis.deleteApi({ apiId: api.apiId });
    const log = await call("GET", "/v1/audit-log?limit=100", { token: ADMIN, accountId });
    const actions = (log.body.entries as { action: string }[]).map((e) => e.action);
    for (const action of [
      "keyspace.created",
      "api_key.created",
      "api_key.updated",
      "api_key.revoked",
      "keyspace.deleted",
    ]) {
      expect(actions).toContain(action);
    }
    expect((await client.keys.verifyKey({ key: again.key })).data.code).toBe("NOT_FOUND");
    await expect(client.apis.getApi({ apiId: api.apiId })).rejects.toMatchObject({ statusCode: 404 });
  });

  it("a key made through /v2 never authenticates to Keyhook's own API, whatever its permissions", async () => {
    const { client } = await workspace();
    const { data: api } = await client.apis.createApi({ name: "app" });
    const { data: made } = await client.keys.createKey({ apiId: api.apiId, permissions: ["keys:write", "*"] });
    expect((await call("GET", "/v1/whoami", { apiKey: made.key })).status).toBe(401);
    expect((await call("GET", "/v1/whoami", { token: made.key })).status).toBe(401);
    expect((await call("GET", "/v1/api-keys", { apiKey: made.key })).status).toBe(401);
    // Nor is it a root key for /v2.
    const asRoot = await exports.default.fetch(
      new Request(`${BASE}/v2/apis.getApi`, {
        method: "POST",
        headers: { authorization: `Bearer ${made.key}`, "content-type": "application/json" },
        body: JSON.stringify({ apiId: api.apiId }),
      }),
    );
    expect(asRoot.status).toBe(401);
    // And Keyhook's own keys are not found through /v2 verify.
    const { rootKey } = await workspace();
    expect((await client.keys.verifyKey({ key: rootKey })).data.code).toBe("NOT_FOUND");
  });

  it("migrateKeys: keys imported by their Unkey hash (base64) or hex verify from their plaintext; duplicates and bad hashes fail", async () => {
    const { client } = await workspace();
    const { data: api } = await client.apis.createApi({ name: "imported" });
    const plaintexts = ["sk_3ZbTnE7Rj1yV2zHd9kW8qXm", `sk_${crypto.randomUUID().replaceAll("-", "")}`];
    const sha = async (text: string) =>
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
    const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
    const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
    const [a, b] = await Promise.all(plaintexts.map(sha));
    // A key shaped as Keyhook's own (prefix and checksum): imported, it still only verifies.
    const keyhookShaped = generateApiKey(settings).key;
    const unkeyHash = base64(a!);
    expect(unkeyHash).toBe("7w+Fc7h/dfhSojob/mWqeudouSE6qAfj6avOb0BrHcg=");
    const { data } = await client.keys.migrateKeys({
      migrationId: "unkey-export-1",
      apiId: api.apiId,
      keys: [
        {
          hash: unkeyHash,
          name: "imported a",
          externalId: "acme",
          permissions: ["documents.read"],
          credits: { remaining: 5 },
        },
        { hash: hex(b!), name: "imported b", expires: Date.now() + 3_600_000, meta: { from: "unkey" } },
        { hash: base64(await sha(keyhookShaped)) },
        { hash: unkeyHash },
        { hash: "not-a-hash" },
      ],
    });
    expect(data.migrated.map((m) => m.hash)).toEqual([unkeyHash, hex(b!), base64(await sha(keyhookShaped))]);
    expect(data.failed).toEqual(["not-a-hash", unkeyHash]);
    const first = (await client.keys.verifyKey({ key: plaintexts[0]!, permissions: "documents.read" })).data;
    expect(first).toMatchObject({
      valid: true,
      code: "VALID",
      name: "imported a",
      credits: 4,
      identity: { externalId: "acme" },
    });
    expect(first.keyId).toBe(data.migrated[0]!.keyId);
    expect((await client.keys.verifyKey({ key: plaintexts[1]! })).data).toMatchObject({
      valid: true,
      meta: { from: "unkey" },
    });
    expect((await client.keys.verifyKey({ key: keyhookShaped })).data.code).toBe("VALID");
    // Keyhook's own API refuses all of them, the Keyhook-shaped one too.
    for (const key of [...plaintexts, keyhookShaped])
      expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(401);
    // Imported again: every one fails (nothing twice).
    const again = (
      await client.keys.migrateKeys({ migrationId: "unkey-export-1", apiId: api.apiId, keys: [{ hash: unkeyHash }] })
    ).data;
    expect(again).toEqual({ migrated: [], failed: [unkeyHash] });
  });

  it("ratelimit.limit: 20 concurrent calls against a limit of 10 — exactly 10 succeed; windows of any length", async () => {
    const { client } = await workspace();
    const identifier = crypto.randomUUID();
    await earlyInWindow(60_000, 10_000);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        client.ratelimit.limit({ namespace: "email.send", identifier, limit: 10, duration: 60_000 }),
      ),
    );
    const passed = answers.filter((a) => a.data.success);
    expect(passed).toHaveLength(10);
    for (const a of answers) {
      expect(a.data.limit).toBe(10);
      expect(a.data.reset).toBeGreaterThan(Date.now());
      expect(a.data.reset).toBeLessThanOrEqual(Date.now() + 60_000);
    }
    expect(answers.map((a) => a.data.remaining).sort((x, y) => x - y)[0]).toBe(0);
    // Another identifier, namespace or window is its own; a cost takes more than one.
    const other = await client.ratelimit.limit({
      namespace: "email.send",
      identifier: `${identifier}-b`,
      limit: 10,
      duration: 1000,
      cost: 4,
    });
    expect(other.data).toMatchObject({ success: true, remaining: 6 });
    // A one-second window opens again.
    const tight = { namespace: "tight", identifier, limit: 1, duration: 1000 };
    await earlyInWindow(1000, 700);
    expect((await client.ratelimit.limit(tight)).data.success).toBe(true);
    expect((await client.ratelimit.limit(tight)).data.success).toBe(false);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await client.ratelimit.limit(tight)).data.success).toBe(true);
    // multiLimit: all must pass.
    const multi = await client.ratelimit.multiLimit([
      { namespace: "m", identifier, limit: 5, duration: 30 * 86_400_000 },
      { namespace: "email.send", identifier, limit: 10, duration: 60_000 },
    ]);
    expect(multi.data.passed).toBe(false);
    expect(multi.data.limits.map((l) => l.passed)).toEqual([true, false]);
  });

  it("a key's named rate limits: autoApply on every verify, named ones with a cost, exact under concurrency", async () => {
    const { client } = await workspace();
    const { data: api } = await client.apis.createApi({ name: "limited" });
    await earlyInWindow(60_000, 10_000);
    const { data: made } = await client.keys.createKey({
      apiId: api.apiId,
      ratelimits: [
        { name: "requests", limit: 5, duration: 60_000, autoApply: true },
        { name: "tokens", limit: 100, duration: 60_000 },
      ],
    });
    expect((await client.keys.getKey({ keyId: made.keyId })).data.ratelimits).toEqual([
      { id: "requests", name: "requests", limit: 5, duration: 60_000, autoApply: true },
      { id: "tokens", name: "tokens", limit: 100, duration: 60_000, autoApply: false },
    ]);
    const answers = await Promise.all(Array.from({ length: 10 }, () => client.keys.verifyKey({ key: made.key })));
    expect(answers.filter((a) => a.data.valid)).toHaveLength(5);
    const refused = answers.find((a) => !a.data.valid)!.data;
    expect(refused.code).toBe("RATE_LIMITED");
    expect(refused.ratelimits?.[0]).toMatchObject({
      name: "requests",
      exceeded: true,
      limit: 5,
      remaining: 0,
      autoApply: true,
    });
    // A named limit with its cost (the autoApply one is still spent out).
    const other = (
      await client.keys.createKey({ apiId: api.apiId, ratelimits: [{ name: "tokens", limit: 100, duration: 60_000 }] })
    ).data;
    let v = (await client.keys.verifyKey({ key: other.key, ratelimits: [{ name: "tokens", cost: 60 }] })).data;
    expect(v).toMatchObject({ valid: true });
    expect(v.ratelimits?.[0]).toMatchObject({ name: "tokens", exceeded: false, remaining: 40 });
    v = (await client.keys.verifyKey({ key: other.key, ratelimits: [{ name: "tokens", cost: 60 }] })).data;
    expect(v).toMatchObject({ valid: false, code: "RATE_LIMITED" });
    // ratelimit.* cannot reach a key's own counters: the same namespace and name there is another counter.
    const third = (
      await client.keys.createKey({
        apiId: api.apiId,
        ratelimits: [{ name: "requests", limit: 1, duration: 60_000, autoApply: true }],
      })
    ).data;
    for (const namespace of [`key:${third.keyId}`, "key"]) {
      const taken = await client.ratelimit.limit({ namespace, identifier: "requests", limit: 1, duration: 60_000 });
      expect(taken.data.success).toBe(true);
    }
    expect((await client.keys.verifyKey({ key: third.key })).data.valid).toBe(true);
    expect((await client.keys.verifyKey({ key: third.key })).data.code).toBe("RATE_LIMITED");
    // A key with no limits is unlimited; an unknown name without a limit is 412, as Unkey answers it.
    await expect(client.keys.verifyKey({ key: other.key, ratelimits: [{ name: "nope" }] })).rejects.toMatchObject({
      statusCode: 412,
    });
  });

  it("@unkey/ratelimit's Ratelimit, its baseUrl at the Worker: limits and refuses", async () => {
    const { rootKey } = await workspace();
    await throughWorker(async () => {
      const limiter = new Ratelimit({ rootKey, namespace: "api.calls", limit: 3, duration: "30s", baseUrl: BASE });
      const user = crypto.randomUUID();
      await earlyInWindow(30_000);
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await limiter.limit(user));
      expect(results.map((r) => r.success)).toEqual([true, true, true, false, false]);
      expect(results[2]).toMatchObject({ limit: 3, remaining: 0 });
      expect((await limiter.limit(`${user}-other`)).success).toBe(true);
    });
  });

  it("keyhook/hono: @unkey/hono's middleware against Keyhook through a service binding — the route sees the verdict", async () => {
    const { client, rootKey } = await workspace();
    const { data: api } = await client.apis.createApi({ name: "docs" });
    const { data: made } = await client.keys.createKey({ apiId: api.apiId, permissions: ["docs.read"] });
    type Env = { Bindings: { KEYHOOK: { fetch: typeof fetch } }; Variables: { unkey: UnkeyContext } };
    const app = new Hono<Env>()
      .use("/docs/*", unkeyHono({ rootKey, binding: "KEYHOOK", permissions: "docs.read" }))
      .get("/docs/one", (c) =>
        c.json({ valid: c.var.unkey.data.valid, code: c.var.unkey.data.code, keyId: c.var.unkey.data.keyId }),
      );
    const strict = new Hono<Env>()
      .use(
        "/*",
        unkeyHono({ rootKey, binding: "KEYHOOK", handleInvalidKey: (c, r) => c.json({ refused: r.data.code }, 403) }),
      )
      .get("/x", (c) => c.text("in"));
    const bindings = {
      KEYHOOK: {
        fetch: ((input: RequestInfo | URL, init?: RequestInit) =>
          exports.default.fetch(new Request(input, init))) as typeof fetch,
      },
    };
    const get = (a: Hono<Env>, path: string, key?: string) =>
      a.request(path, key ? { headers: { authorization: `Bearer ${key}` } } : {}, bindings);
    expect(await (await get(app, "/docs/one", made.key)).json()).toEqual({
      valid: true,
      code: "VALID",
      keyId: made.keyId,
    });
    expect(await (await get(app, "/docs/one", "sk_wrong")).json()).toEqual({ valid: false, code: "NOT_FOUND" });
    const none = await get(app, "/docs/one");
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: "unauthorized" });
    const refused = await get(strict, "/x", "sk_wrong");
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ refused: "NOT_FOUND" });
    expect(await (await get(strict, "/x", made.key)).text()).toBe("in");
    // A root key Keyhook refuses: onError, else a 500.
    const broken = new Hono<Env>()
      .use("/*", unkeyHono({ rootKey: "kh_live_wrong", binding: "KEYHOOK" }))
      .get("/x", (c) => c.text("in"));
    expect((await get(broken, "/x", made.key)).status).toBe(500);
  });

  it("identities: meta and rate limits shared by the identity's keys (exact across keys), changed on the next verify", async () => {
    const { client } = await workspace();
    const { data: api } = await client.apis.createApi({ name: "identities" });
    await earlyInWindow(60_000, 15_000);
    const { data: made } = await client.identities.createIdentity({
      externalId: "acme",
      meta: { tier: "gold" },
      ratelimits: [{ name: "shared", limit: 4, duration: 60_000, autoApply: true }],
    });
    expect(made.identityId).toMatch(/^id_/);
    await expect(client.identities.createIdentity({ externalId: "acme" })).rejects.toMatchObject({ statusCode: 409 });
    const one = (await client.keys.createKey({ apiId: api.apiId, externalId: "acme" })).data;
    const two = (await client.keys.createKey({ apiId: api.apiId, externalId: "acme" })).data;
    const loner = (await client.keys.createKey({ apiId: api.apiId, externalId: "loner" })).data;

    // 8 concurrent verifies over the identity's two keys against its limit of 4: exactly 4.
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => client.keys.verifyKey({ key: i % 2 ? one.key : two.key })),
    );
    expect(answers.filter((a) => a.data.valid)).toHaveLength(4);
    expect(answers.filter((a) => a.data.code === "RATE_LIMITED")).toHaveLength(4);
    const valid = answers.find((a) => a.data.valid)!.data;
    expect(valid.identity).toEqual({
      id: made.identityId,
      externalId: "acme",
      meta: { tier: "gold" },
      ratelimits: [{ id: "shared", name: "shared", limit: 4, duration: 60_000, autoApply: true }],
    });
    expect(valid.ratelimits?.[0]).toMatchObject({ name: "shared", limit: 4, autoApply: true });
    // Another identity's key counts on its own (its identity made by the key: no limits).
    expect((await client.keys.verifyKey({ key: loner.key })).data.valid).toBe(true);
    const auto = (await client.identities.getIdentity({ identity: "loner" })).data;
    expect(auto).toEqual({ id: expect.stringMatching(/^id_/), externalId: "loner" });

    // A change applies on the next verify (the keys' cached records are purged).
    const updated = (
      await client.identities.updateIdentity({
        identity: made.identityId,
        meta: { tier: "platinum" },
        ratelimits: [{ name: "shared", limit: 100, duration: 60_000, autoApply: true }],
      })
    ).data;
    expect(updated).toMatchObject({ id: made.identityId, meta: { tier: "platinum" } });
    const after = (await client.keys.verifyKey({ key: one.key })).data;
    expect(after).toMatchObject({ valid: true, identity: { meta: { tier: "platinum" } } });
    expect((await client.keys.getKey({ keyId: two.keyId })).data.identity).toMatchObject({
      id: made.identityId,
      meta: { tier: "platinum" },
    });

    // Lists: by search, paged; an API's keys of one identity (in SQL, across pages).
    const all = await client.identities.listIdentities({ limit: 1 });
    expect(all.result.data.map((i) => i.externalId)).toEqual(["acme"]);
    expect(all.result.pagination).toMatchObject({ hasMore: true, cursor: "acme" });
    const next = await client.identities.listIdentities({ limit: 1, cursor: all.result.pagination?.cursor });
    expect(next.result.data.map((i) => i.externalId)).toEqual(["loner"]);
    expect((await client.identities.listIdentities({ search: "lon" })).result.data).toHaveLength(1);
    const acmeKeys = await client.apis.listKeys({ apiId: api.apiId, externalId: "acme", limit: 1 });
    expect(acmeKeys.result.data.map((k) => k.keyId)).toEqual([two.keyId]);
    expect(acmeKeys.result.pagination?.hasMore).toBe(true);

    // Deleted: its keys have no identity and verify without its limits.
    await client.identities.deleteIdentity({ identity: "acme" });
    await expect(client.identities.getIdentity({ identity: "acme" })).rejects.toMatchObject({ statusCode: 404 });
    await expect(client.identities.deleteIdentity({ identity: "acme" })).rejects.toMatchObject({ statusCode: 404 });
    const orphan = (await client.keys.verifyKey({ key: one.key })).data;
    expect(orphan.valid).toBe(true);
    expect(orphan.identity).toBeUndefined();
    expect(orphan.ratelimits).toBeUndefined();
  });

  it("permissions and roles: a key's roles grant their permissions as they are now; the catalog; deletion takes them away", async () => {
    const { client } = await workspace();
    const { data: api } = await client.apis.createApi({ name: "rbac" });
    const { data: perm } = await client.permissions.createPermission({
      name: "Read documents",
      slug: "documents.read",
      description: "read them",
    });
    expect(perm.permissionId).toMatch(/^perm_/);
    await expect(client.permissions.createPermission({ name: "again", slug: "documents.read" })).rejects.toMatchObject({
      statusCode: 409,
    });
    const reader = (await client.permissions.createRole({ name: "reader", permissions: ["documents.read"] })).data;
    await client.permissions.createRole({ name: "writer", description: "writes", permissions: ["documents.write"] });
    await expect(client.keys.createKey({ apiId: api.apiId, roles: ["nobody"] })).rejects.toMatchObject({
      statusCode: 404,
    });
    const { data: key } = await client.keys.createKey({ apiId: api.apiId, roles: ["reader"] });
    const can = async (query: string) => (await client.keys.verifyKey({ key: key.key, permissions: query })).data;
    expect(await can("documents.read")).toMatchObject({
      valid: true,
      roles: ["reader"],
      permissions: ["documents.read"],
    });
    expect((await can("documents.write")).code).toBe("INSUFFICIENT_PERMISSIONS");

    const added = (await client.keys.addRoles({ keyId: key.keyId, roles: ["writer"] })).data;
    expect(added.map((r) => r.name).sort()).toEqual(["reader", "writer"]);
    expect(added.find((r) => r.name === "writer")).toMatchObject({
      description: "writes",
      permissions: [{ name: "documents.write", slug: "documents.write", id: expect.stringMatching(/^perm_/) }],
    });
    expect((await can("documents.read AND documents.write")).valid).toBe(true);
    // The role's permissions changed: the key holds the new ones on its next verify.
    const set = (await client.permissions.setRolePermissions({ roleId: "writer", permissions: ["documents.delete"] }))
      .data;
    expect(set.map((p) => p.slug)).toEqual(["documents.delete"]);
    expect((await can("documents.write")).code).toBe("INSUFFICIENT_PERMISSIONS");
    expect((await can("documents.delete")).valid).toBe(true);
    expect((await client.keys.removeRoles({ keyId: key.keyId, roles: ["writer"] })).data.map((r) => r.name)).toEqual([
      "reader",
    ]);
    expect((await can("documents.delete")).code).toBe("INSUFFICIENT_PERMISSIONS");
    expect((await client.keys.setRoles({ keyId: key.keyId, roles: ["writer", "reader"] })).data).toHaveLength(2);
    expect((await client.keys.getKey({ keyId: key.keyId })).data.roles?.sort()).toEqual(["reader", "writer"]);

    // The catalog: given slugs were added; by id or slug; paged.
    expect((await client.permissions.getPermission({ permission: "documents.read" })).data).toEqual({
      id: perm.permissionId,
      name: "Read documents",
      slug: "documents.read",
      description: "read them",
    });
    const listed = await client.permissions.listPermissions({ limit: 2 });
    expect(listed.result.data.map((p) => p.slug)).toEqual(["documents.delete", "documents.read"]);
    expect(listed.result.pagination?.hasMore).toBe(true);
    expect((await client.permissions.getRole({ role: reader.roleId })).data).toMatchObject({
      name: "reader",
      permissions: [{ slug: "documents.read" }],
    });
    expect((await client.permissions.listRoles({})).result.data.map((r) => r.name)).toEqual(["reader", "writer"]);

    // A permission deleted is gone from every role and key at once; so is a deleted role.
    const direct = (await client.keys.createKey({ apiId: api.apiId, permissions: ["documents.read"] })).data;
    expect((await client.keys.verifyKey({ key: direct.key, permissions: "documents.read" })).data.valid).toBe(true);
    await client.permissions.deletePermission({ permission: "documents.read" });
    expect((await client.keys.verifyKey({ key: direct.key, permissions: "documents.read" })).data.code).toBe(
      "INSUFFICIENT_PERMISSIONS",
    );
    expect((await client.keys.getKey({ keyId: direct.keyId })).data.permissions).toBeUndefined();
    expect((await can("documents.read")).code).toBe("INSUFFICIENT_PERMISSIONS");
    expect((await can("documents.delete")).valid).toBe(true);
    await client.permissions.deleteRole({ role: "writer" });
    expect((await can("documents.delete")).code).toBe("INSUFFICIENT_PERMISSIONS");
    expect((await client.keys.getKey({ keyId: key.keyId })).data.roles).toEqual(["reader"]);
    await expect(client.permissions.getRole({ role: "writer" })).rejects.toMatchObject({ statusCode: 404 });

    // A key holds roles by id: a role deleted and made again under its name is another role.
    await client.permissions.createRole({ name: "Billing Manager", permissions: ["billing.read"] });
    const billing = (await client.keys.createKey({ apiId: api.apiId, roles: ["Billing Manager"] })).data;
    const bill = async () => (await client.keys.verifyKey({ key: billing.key, permissions: "billing.read" })).data;
    expect(await bill()).toMatchObject({ valid: true, roles: ["Billing Manager"] });
    await client.permissions.deleteRole({ role: "Billing Manager" });
    await client.permissions.createRole({ name: "Billing Manager", permissions: ["billing.read"] });
    expect(await bill()).toMatchObject({ valid: false, code: "INSUFFICIENT_PERMISSIONS" });
    expect((await client.keys.getKey({ keyId: billing.keyId })).data.roles).toBeUndefined();

    // Imported keys keep their roles.
    const secret = `legacy_${crypto.randomUUID().replaceAll("-", "")}`;
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret)));
    const hash = btoa(String.fromCharCode(...digest));
    await client.permissions.setRolePermissions({ roleId: reader.roleId, permissions: ["documents.list"] });
    const moved = await client.keys.migrateKeys({
      migrationId: "m1",
      apiId: api.apiId,
      keys: [{ hash, roles: ["reader"] }],
    });
    expect(moved.data.migrated).toHaveLength(1);
    expect((await client.keys.verifyKey({ key: secret, permissions: "documents.list" })).data).toMatchObject({
      valid: true,
      roles: ["reader"],
    });
    // A key with credits is looked up and spent in one statement from its second verify: its roles come too.
    const metered = (await client.keys.createKey({ apiId: api.apiId, roles: ["reader"], credits: { remaining: 5 } }))
      .data;
    for (const left of [4, 3, 2]) {
      const v = (await client.keys.verifyKey({ key: metered.key, permissions: "documents.list" })).data;
      expect(v).toMatchObject({ valid: true, credits: left, permissions: ["documents.list"] });
    }
    expect((await client.keys.verifyKey({ key: metered.key, permissions: "documents.read" })).data.code).toBe(
      "INSUFFICIENT_PERMISSIONS",
    );
  });

  it("ratelimit overrides (@unkey/ratelimit's Overrides): one identifier gets its own limit, listed, and removed", async () => {
    const { rootKey, client } = await workspace();
    await throughWorker(async () => {
      const overrides = new Overrides({ rootKey, baseUrl: BASE });
      const set = await overrides.setOverride({ namespace: "api", identifier: "vip", limit: 5, duration: 60_000 });
      const overrideId = set.data.overrideId;
      expect(overrideId).toMatch(/^rlo_/);
      await overrides.setOverride({ namespace: "api", identifier: "blocked", limit: 0, duration: 60_000 });
      expect((await overrides.getOverride({ namespace: "api", identifier: "vip" })).data).toEqual({
        overrideId,
        identifier: "vip",
        limit: 5,
        duration: 60_000,
      });
      const listed = await overrides.listOverrides({ namespace: "api" });
      expect(listed.data.map((o) => o.identifier)).toEqual(["blocked", "vip"]);

      await earlyInWindow(60_000, 10_000);
      const limit = (identifier: string) =>
        client.ratelimit.limit({ namespace: "api", identifier, limit: 2, duration: 60_000 }).then((r) => r.data);
      const vip = await Promise.all(Array.from({ length: 8 }, () => limit("vip")));
      expect(vip.filter((r) => r.success)).toHaveLength(5);
      expect(vip[0]).toMatchObject({ limit: 5, overrideId });
      const plain = await Promise.all(Array.from({ length: 4 }, () => limit("plain")));
      expect(plain.filter((r) => r.success)).toHaveLength(2);
      expect(plain[0]?.overrideId).toBeUndefined();
      expect((await limit("blocked")).success).toBe(false);
      // The same identifier in another namespace is not overridden.
      expect(
        (await client.ratelimit.limit({ namespace: "other", identifier: "blocked", limit: 1, duration: 60_000 })).data
          .success,
      ).toBe(true);

      await overrides.deleteOverride({ namespace: "api", identifier: "blocked" });
      expect((await limit("blocked")).success).toBe(true);
      await expect(overrides.getOverride({ namespace: "api", identifier: "blocked" })).rejects.toMatchObject({
        statusCode: 404,
      });
      await expect(
        overrides.setOverride({ namespace: "api", identifier: "*@acme.com", limit: 1, duration: 60_000 }),
      ).rejects.toMatchObject({ statusCode: 400 });
    });
  });

  it("bad input: Unkey's error shapes with the right status, never a 500", async () => {
    const { client, rootKey } = await workspace();
    const post = (path: string, payload: unknown, token: string | null = rootKey) =>
      exports.default.fetch(
        new Request(`${BASE}/v2/${path}`, {
          method: "POST",
          headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), "content-type": "application/json" },
          body: typeof payload === "string" ? payload : JSON.stringify(payload),
        }),
      );
    const cases: Array<[string, unknown, string | null, number]> = [
      ["keys.createKey", { apiId: "api_missing" }, rootKey, 404],
      ["keys.createKey", { apiId: "bad id!" }, rootKey, 400],
      ["keys.createKey", "{not json", rootKey, 400],
      ["keys.verifyKey", { key: "" }, rootKey, 400],
      ["keys.verifyKey", { key: "x", permissions: "a AND (b" }, rootKey, 400],
      ["keys.verifyKey", { key: "x", permissions: "a OR" }, rootKey, 400],
      ["keys.getKey", { keyId: "key_nope" }, rootKey, 404],
      [
        "keys.createKey",
        { apiId: "api_x", meta: { a: JSON.parse(`${"[".repeat(20)}${"]".repeat(20)}`) } },
        rootKey,
        400,
      ],
      ["identities.createIdentity", { externalId: "x", meta: { big: "x".repeat(20_000) } }, rootKey, 400],
      ["identities.createIdentity", { externalId: "not ok!" }, rootKey, 400],
      ["permissions.createRole", { name: " " }, rootKey, 400],
      ["ratelimit.setOverride", { namespace: "n", identifier: "i", limit: -1, duration: 60_000 }, rootKey, 400],
      ["identities.getIdentity", { identity: "nobody" }, rootKey, 404],
      ["permissions.getRole", { role: "nobody" }, rootKey, 404],
      ["apis.getApi", { apiId: "api_nope" }, null, 401],
      ["apis.getApi", { apiId: "api_nope" }, "wrong", 401],
      ["keys.nonsense", {}, rootKey, 404],
    ];
    for (const [path, payload, token, status] of cases) {
      const res = await post(path, payload, token);
      expect(res.status, `${path} ${JSON.stringify(payload)}`).toBe(status);
      const answer = await res.json<any>();
      expect(answer.meta.requestId).toEqual(expect.any(String));
      expect(answer.error).toMatchObject({
        title: expect.any(String),
        detail: expect.any(String),
        status,
        type: expect.any(String),
      });
      if (status === 400) expect(answer.error.errors[0].location).toMatch(/^body/);
    }
    // The client raises its typed errors for them.
    await expect(client.apis.getApi({ apiId: "api_nope" })).rejects.toMatchObject({ statusCode: 404 });
    // A root key without keys:write may not create.
    const { account } = await workspace();
    const reader = await createKey(account.id, { name: "reader", scopes: ["keys:read"] });
    await expect(unkey(reader.key).apis.createApi({ name: "nope" })).rejects.toMatchObject({ statusCode: 403 });
  });
});

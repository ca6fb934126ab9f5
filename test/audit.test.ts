import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, type CallOptions, call, createAccount, createKey } from "./helpers/api";
import { createClient, insertGrant } from "./helpers/oauth";
import { appRoutes, fillPath } from "./helpers/routes";

interface Case {
  /** Makes what the route acts on; returns the id for `:id` and the expected target. */
  setup: (accountId: string) => Promise<{ id?: string; targetType: string }>;
  body?: unknown;
  action: string;
  /** Operator routes act on accounts, not inside one. */
  operatorOnly?: boolean;
  /** Outside any account: the entry is in the deployment's log. */
  deployment?: boolean;
}

const newDeploymentClient = async () =>
  (
    await call("POST", "/v1/deployment/oauth-clients", {
      token: ADMIN,
      body: { name: "Shared", redirectUris: ["https://client.example/cb"], scopes: ["keys:read"] },
    })
  ).body.client.id as string;

const newOperatorKey = async () =>
  (
    await call("POST", "/v1/deployment/operator-keys", {
      token: ADMIN,
      body: { name: "CI", scopes: ["operator:read"] },
    })
  ).body.operatorKey.id as string;

const newWebhook = async (accountId: string) =>
  (
    await call("POST", "/v1/webhooks", {
      token: ADMIN,
      accountId,
      body: { url: `${env.RECEIVER_URL}/ok/audit`, events: ["*"] },
    })
  ).body.webhook.id as string;

const newProfile = async (accountId: string) =>
  (await call("POST", "/v1/permission-profiles", { token: ADMIN, accountId, body: { name: "p", permissions: [] } }))
    .body.profile.id as string;

/** One case per mutating route; the test below fails if a route is missing here. */
const cases: Record<string, Case> = {
  "POST /v1/accounts": {
    setup: async () => ({ targetType: "account" }),
    body: { name: "Audited", plan: "pro" },
    action: "account.created",
    operatorOnly: true,
  },
  "PATCH /v1/accounts/:id": {
    setup: async (accountId) => ({ id: accountId, targetType: "account" }),
    body: { plan: "enterprise" },
    action: "account.updated",
    operatorOnly: true,
  },
  "POST /v1/deployment/oauth-clients": {
    setup: async () => ({ targetType: "oauth_client" }),
    body: { name: "CLI", redirectUris: ["http://127.0.0.1/cb"], scopes: ["keys:read"] },
    action: "oauth_client.created",
    operatorOnly: true,
    deployment: true,
  },
  "PATCH /v1/deployment/oauth-clients/:id": {
    setup: async () => ({ id: await newDeploymentClient(), targetType: "oauth_client" }),
    body: { enabled: false },
    action: "oauth_client.updated",
    operatorOnly: true,
    deployment: true,
  },
  "DELETE /v1/deployment/oauth-clients/:id": {
    setup: async () => ({ id: await newDeploymentClient(), targetType: "oauth_client" }),
    action: "oauth_client.deleted",
    operatorOnly: true,
    deployment: true,
  },
  "POST /v1/deployment/operator-keys": {
    setup: async () => ({ targetType: "operator_key" }),
    body: { name: "Svix client", scopes: ["operator:write"] },
    action: "operator_key.created",
    operatorOnly: true,
    deployment: true,
  },
  "PATCH /v1/deployment/operator-keys/:id": {
    setup: async () => ({ id: await newOperatorKey(), targetType: "operator_key" }),
    body: { name: "renamed" },
    action: "operator_key.updated",
    operatorOnly: true,
    deployment: true,
  },
  "DELETE /v1/deployment/operator-keys/:id": {
    setup: async () => ({ id: await newOperatorKey(), targetType: "operator_key" }),
    action: "operator_key.revoked",
    operatorOnly: true,
    deployment: true,
  },
  "POST /v1/api-keys": {
    setup: async () => ({ targetType: "api_key" }),
    body: { name: "new", scopes: [] },
    action: "api_key.created",
  },
  "PATCH /v1/api-keys/:id": {
    setup: async (a) => ({ id: (await createKey(a)).apiKey.id, targetType: "api_key" }),
    body: { name: "renamed" },
    action: "api_key.updated",
  },
  "DELETE /v1/api-keys/:id": {
    setup: async (a) => ({ id: (await createKey(a)).apiKey.id, targetType: "api_key" }),
    action: "api_key.revoked",
  },
  "POST /v1/api-keys/:id/rotate": {
    setup: async (a) => ({ id: (await createKey(a)).apiKey.id, targetType: "api_key" }),
    body: { gracePeriodSeconds: 60 },
    action: "api_key.rotated",
  },
  "POST /v1/api-keys/:id/credits": {
    setup: async (a) => ({ id: (await createKey(a, { credits: { remaining: 5 } })).apiKey.id, targetType: "api_key" }),
    body: { op: "increment", amount: 10 },
    action: "api_key.credits_updated",
  },
  "POST /v1/permission-profiles": {
    setup: async () => ({ targetType: "permission_profile" }),
    body: { name: "Readers", permissions: ["keys:read"] },
    action: "permission_profile.created",
  },
  "PATCH /v1/permission-profiles/:id": {
    setup: async (a) => ({ id: await newProfile(a), targetType: "permission_profile" }),
    body: { permissions: ["keys:read"] },
    action: "permission_profile.updated",
  },
  "POST /v1/webhooks": {
    setup: async () => ({ targetType: "webhook" }),
    body: { url: "https://hooks.example.com/keyhook", events: ["api_key.created"] },
    action: "webhook.created",
  },
  "PATCH /v1/webhooks/:id": {
    setup: async (a) => ({ id: await newWebhook(a), targetType: "webhook" }),
    body: { description: "changed" },
    action: "webhook.updated",
  },
  "DELETE /v1/webhooks/:id": {
    setup: async (a) => ({ id: await newWebhook(a), targetType: "webhook" }),
    action: "webhook.deleted",
  },
  "POST /v1/webhooks/:id/rotate-secret": {
    setup: async (a) => ({ id: await newWebhook(a), targetType: "webhook" }),
    body: { overlapSeconds: 60 },
    action: "webhook.secret_rotated",
  },
  "DELETE /v1/accounts/:id": {
    setup: async (accountId) => ({ id: accountId, targetType: "account" }),
    action: "account.deleted",
    operatorOnly: true,
  },
  "DELETE /v1/events/:id/content": {
    setup: async (a) => ({
      id: (await call("POST", "/v1/events", { token: ADMIN, accountId: a, body: { type: "a.b", entity: { x: 1 } } }))
        .body.event.id,
      targetType: "event",
    }),
    action: "event.content_deleted",
  },
  "DELETE /v1/permission-profiles/:id": {
    setup: async (a) => ({ id: await newProfile(a), targetType: "permission_profile" }),
    action: "permission_profile.deleted",
  },
  "POST /v1/oauth-clients": {
    setup: async () => ({ targetType: "oauth_client" }),
    body: { name: "Zapier", scopes: ["keys:read"] },
    action: "oauth_client.created",
  },
  "PATCH /v1/oauth-clients/:id": {
    setup: async (a) => ({
      id: (await createClient(a, { scopes: ["keys:read"] })).client.id,
      targetType: "oauth_client",
    }),
    body: { name: "Renamed" },
    action: "oauth_client.updated",
  },
  "POST /v1/oauth-clients/:id/rotate-secret": {
    setup: async (a) => ({
      id: (await createClient(a, { scopes: ["keys:read"] })).client.id,
      targetType: "oauth_client",
    }),
    action: "oauth_client.secret_rotated",
  },
  "DELETE /v1/oauth-clients/:id": {
    setup: async (a) => ({
      id: (await createClient(a, { scopes: ["keys:read"] })).client.id,
      targetType: "oauth_client",
    }),
    action: "oauth_client.deleted",
  },
  "DELETE /v1/oauth-grants/:id": {
    setup: async (a) => ({ id: (await insertGrant(a)).grantId, targetType: "oauth_grant" }),
    action: "oauth_grant.revoked",
  },
  "POST /v1/portal-sessions": {
    setup: async () => ({ targetType: "portal_session" }),
    body: { capabilities: ["webhooks:write"] },
    action: "portal_session.created",
  },
  "DELETE /v1/portal-sessions/:id": {
    setup: async (a) => ({
      id: (await call("POST", "/v1/portal-sessions", { token: ADMIN, body: { accountId: a } })).body.portalSession.id,
      targetType: "portal_session",
    }),
    action: "portal_session.revoked",
  },
  "PUT /v1/oauth-users/:id": {
    setup: async (a) => {
      await insertGrant(a, "user_demoted");
      return { id: "user_demoted", targetType: "user" };
    },
    body: { role: "member", permissions: ["keys:read"] },
    action: "oauth_user.updated",
  },
};

/**
 * Not changes to configuration: verify answers a question; publishing, test sends, retries,
 * recovery and replays move events, whose record is the delivery history, not the audit log.
 */
const notMutations = new Set([
  // The OAuth protocol: consent and grant revocations are audited (test/oauth.test.ts); tokens are records of their own.
  "POST /oauth/authorize",
  "POST /oauth/token",
  "POST /oauth/revoke",
  "POST /oauth/introspect",
  "POST /oauth/register",
  // MCP tool calls run the audited routes themselves (test/mcp.test.ts).
  "POST /mcp",
  // A local edge cache's purge (plumbing between Keyhook processes): it changes no record.
  "POST /__edge/purge",
  "DELETE /mcp",
  // The portal's own sign-out ends the caller's session; its API calls run the audited routes.
  "POST /portal/api/logout",
  "POST /v1/keys/verify",
  "POST /v1/events",
  "POST /v1/event-types",
  "POST /v1/deliveries/:id/retry",
  "POST /v1/webhooks/:id/recover",
  "POST /v1/webhooks/:id/replay",
  "POST /v1/replays",
  "POST /v1/webhooks/:id/test",
]);
// Svix's API (/api/v1) changes accounts, webhooks and events through the same audited services
// (test/svix.test.ts); its event-type catalog is the deployment's.
const mutating = appRoutes().filter(
  (r) =>
    ["POST", "PATCH", "DELETE", "PUT"].includes(r.method) &&
    !notMutations.has(`${r.method} ${r.path}`) &&
    !r.path.startsWith("/api/v1") &&
    // Unkey's API: its key changes are audited by the keys service (test/unkey.test.ts checks the log).
    !r.path.startsWith("/v2/"),
);

const entriesOf = async (accountId: string) =>
  (await call("GET", "/v1/audit-log?limit=100", { token: ADMIN, accountId })).body.entries as any[];

/** The stored rows, in the API's shape. */
const storedEntriesOf = async (accountId: string) =>
  (
    await env.DB.prepare("SELECT * FROM audit_log WHERE account_id = ? ORDER BY id DESC").bind(accountId).all<any>()
  ).results.map((r) => ({
    action: r.action,
    target: { type: r.target_type, id: r.target_id },
    actor: { type: r.actor_type, id: r.actor_id, name: r.actor_name },
    ip: r.ip,
    userAgent: r.user_agent,
    requestId: r.request_id,
  }));

describe("every change writes an audit entry", () => {
  it("the table covers every mutating route", () => {
    expect(mutating.map((r) => `${r.method} ${r.path}`).sort()).toEqual(Object.keys(cases).sort());
  });

  for (const [name, c] of Object.entries(cases)) {
    it(`${name} → ${c.action}`, async () => {
      const account = await createAccount("enterprise");
      const { key: actorKey, apiKey: actor } = await createKey(account.id, { name: "Deploy bot" });
      const { id, targetType } = await c.setup(account.id);
      const [method, path] = name.split(" ") as [string, string];
      const who: CallOptions = c.operatorOnly ? { token: ADMIN } : { apiKey: actorKey };
      const res = await call(method, fillPath(path, id ?? ""), {
        ...who,
        body: c.body,
        headers: { "cf-connecting-ip": "198.51.100.4", "user-agent": "audit-test/1.0" },
      });
      expect(res.status).toBeLessThan(300);
      const targetId =
        id ??
        res.body.account?.id ??
        res.body.apiKey?.id ??
        res.body.profile?.id ??
        res.body.webhook?.id ??
        res.body.client?.id ??
        res.body.operatorKey?.id ??
        res.body.portalSession?.id;
      const entries = c.deployment
        ? ((await call("GET", "/v1/deployment/audit-log?limit=100", { token: ADMIN })).body.entries as any[])
        : name === "DELETE /v1/accounts/:id"
          ? await storedEntriesOf(account.id) // a deleted account is not found by the API: its entry stays in D1
          : await entriesOf(method === "POST" && path === "/v1/accounts" ? targetId : account.id);
      const entry = entries.find((e) => e.action === c.action && e.target.id === targetId);
      expect(entry, JSON.stringify(entries)).toBeDefined();
      expect(entry.target.type).toBe(targetType);
      expect(entry.actor).toEqual(
        c.operatorOnly
          ? { type: "operator", id: "operator", name: "Operator" }
          : { type: "api_key", id: actor.id, name: "Deploy bot" },
      );
      expect(entry).toMatchObject({
        ip: "198.51.100.4",
        userAgent: "audit-test/1.0",
        requestId: res.headers.get("x-request-id"),
      });
      if (res.body.key) expect(JSON.stringify(entries)).not.toContain(res.body.key);
      if (res.body.secret) expect(JSON.stringify(entries)).not.toContain(res.body.secret);
      if (res.body.clientSecret) expect(JSON.stringify(entries)).not.toContain(res.body.clientSecret);
      expect(JSON.stringify(entries)).not.toContain(actorKey);
    });
  }

  it("changes hold before and after of the changed fields only", async () => {
    const account = await createAccount();
    const { apiKey } = await createKey(account.id, { name: "old" });
    await call("PATCH", `/v1/api-keys/${apiKey.id}`, {
      token: ADMIN,
      accountId: account.id,
      body: { name: "new", enabled: true },
    });
    const entry = (await entriesOf(account.id)).find((e) => e.action === "api_key.updated");
    expect(entry.changes).toEqual({ name: { before: "old", after: "new" } });
  });

  it("no secret or hash ever reaches an audit entry", async () => {
    const account = await createAccount();
    const op = { token: ADMIN, accountId: account.id };
    const { apiKey, key } = await createKey(account.id);
    const rotated = await call("POST", `/v1/api-keys/${apiKey.id}/rotate`, { ...op, body: { gracePeriodSeconds: 60 } });
    await call("DELETE", `/v1/api-keys/${apiKey.id}`, op);
    const { results } = await env.DB.prepare("SELECT * FROM audit_log").all();
    const hashes = await env.DB.prepare("SELECT hash, previous_hash FROM api_keys").all();
    const everything = JSON.stringify(results);
    expect(results.length).toBeGreaterThanOrEqual(4);
    for (const secret of [key, rotated.body.key]) expect(everything).not.toContain(secret);
    for (const row of hashes.results) {
      expect(everything).not.toContain(row.hash as string);
      if (row.previous_hash) expect(everything).not.toContain(row.previous_hash as string);
    }
  });

  it("a refused change leaves no entry (key over the plan limit)", async () => {
    const account = await createAccount("pro");
    await call("PATCH", `/v1/accounts/${account.id}`, { token: ADMIN, body: { limits: { maxActiveKeys: 1 } } });
    await createKey(account.id);
    const refused = await call("POST", "/v1/api-keys", {
      token: ADMIN,
      accountId: account.id,
      body: { name: "too many" },
    });
    expect(refused.status).toBe(409);
    const created = (await entriesOf(account.id)).filter((e) => e.action === "api_key.created");
    expect(created).toHaveLength(1);
  });
});

describe("GET /v1/audit-log", () => {
  it("needs audit:read, newest first, filters and cursor", async () => {
    const account = await createAccount();
    const op = { token: ADMIN, accountId: account.id };
    const a = await createKey(account.id, { name: "a" });
    await createKey(account.id, { name: "b" });
    await call("PATCH", `/v1/api-keys/${a.apiKey.id}`, { ...op, body: { name: "a2" } });
    const noScope = await createKey(account.id, { scopes: ["keys:read"] });
    expect((await call("GET", "/v1/audit-log", { apiKey: noScope.key })).status).toBe(403);
    const all = await entriesOf(account.id);
    expect(all.map((e) => e.action).slice(0, 2)).toEqual(["api_key.created", "api_key.updated"]);
    const byTarget = await call("GET", `/v1/audit-log?targetId=${a.apiKey.id}`, op);
    expect(byTarget.body.entries.map((e: any) => e.action)).toEqual(["api_key.updated", "api_key.created"]);
    const byAction = await call("GET", "/v1/audit-log?action=api_key.updated", op);
    expect(byAction.body.entries).toHaveLength(1);
    const byActor = await call("GET", "/v1/audit-log?actorId=operator", op);
    expect(byActor.body.entries.length).toBe(all.length); // the operator did everything here
    const byKey = await call("GET", `/v1/audit-log?actorId=${noScope.apiKey.id}`, op);
    expect(byKey.body.entries).toEqual([]);
    const future = await call("GET", `/v1/audit-log?since=${new Date(Date.now() + 60_000).toISOString()}`, op);
    expect(future.body.entries).toEqual([]);
    const past = await call("GET", `/v1/audit-log?until=${new Date(Date.now() - 3_600_000).toISOString()}`, op);
    expect(past.body.entries).toEqual([]);
    const page1 = await call("GET", "/v1/audit-log?limit=2", op);
    const page2 = await call("GET", `/v1/audit-log?limit=2&cursor=${page1.body.nextCursor}`, op);
    expect(page2.body.entries[0].id < page1.body.entries[1].id).toBe(true);
    expect((await call("GET", "/v1/audit-log?since=yesterday", op)).status).toBe(400);
  });
});

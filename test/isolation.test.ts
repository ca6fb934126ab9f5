import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../src/lib/encoding";
import { ADMIN, type CallOptions, call, createAccount, createKey, userToken } from "./helpers/api";
import { createClient, insertGrant } from "./helpers/oauth";
import { appRoutes, fillPath } from "./helpers/routes";
import { deliveryRow, insertEvent } from "./helpers/webhooks";

/** How to make a victim's row for each tenant resource, and which table holds it. */
const resources: Record<
  string,
  { table: string; create: (accountId: string) => Promise<string>; read?: (id: string) => Promise<unknown> }
> = {
  "/v1/api-keys": {
    table: "api_keys",
    create: async (accountId) => (await createKey(accountId, { name: "victim key" })).apiKey.id,
  },
  "/v1/webhooks": {
    table: "webhooks",
    create: async (accountId) => {
      const res = await call("POST", "/v1/webhooks", {
        token: ADMIN,
        accountId,
        body: { url: `${env.RECEIVER_URL}/ok/isolation`, events: ["*"], description: "victim key" },
      });
      return res.body.webhook.id;
    },
  },
  "/v1/deliveries": {
    table: "events",
    // Written directly (status failed, no queue message), so no consumer changes it mid-test.
    create: async (accountId) => {
      const [id] = await insertEvent({
        id: newId("evt", Date.now()),
        accountId,
        type: "a.b",
        deliveries: [{ webhookId: "wh_x", status: "failed", attempts: 1 }],
      });
      return id as string;
    },
    read: (id) => deliveryRow(id),
  },
  "/v1/events": {
    table: "events",
    create: async (accountId) => {
      const res = await call("POST", "/v1/events", {
        token: ADMIN,
        accountId,
        body: { type: "victim.created", entity: { name: "victim key" } },
      });
      return res.body.event.id;
    },
  },
  "/v1/oauth-clients": {
    table: "oauth_clients",
    create: async (accountId) =>
      (await createClient(accountId, { name: "victim key", scopes: ["keys:read"] })).client.id,
  },
  "/v1/oauth-grants": {
    table: "oauth_grants",
    create: async (accountId) => (await insertGrant(accountId)).grantId,
  },
  "/v1/portal-sessions": {
    table: "portal_sessions",
    create: async (accountId) => {
      const res = await call("POST", "/v1/portal-sessions", {
        token: ADMIN,
        body: { accountId, theme: { name: "victim key" } },
      });
      return res.body.portalSession.id;
    },
  },
  "/v1/permission-profiles": {
    table: "permission_profiles",
    create: async (accountId) => {
      const res = await call("POST", "/v1/permission-profiles", {
        token: ADMIN,
        accountId,
        body: { name: "victim key", permissions: ["keys:read"] },
      });
      return res.body.profile.id;
    },
  },
};

/** A valid body for each tenant `:id` route that takes one, so the 404 comes from isolation, not validation. */
const bodies: Record<string, unknown> = {
  "PATCH /v1/api-keys/:id": { name: "stolen", enabled: false },
  "POST /v1/api-keys/:id/rotate": { gracePeriodSeconds: 0 },
  "POST /v1/api-keys/:id/credits": { op: "set", amount: 1000000 },
  "PATCH /v1/permission-profiles/:id": { name: "stolen", permissions: ["*"] },
  "PATCH /v1/webhooks/:id": { description: "stolen", status: "disabled" },
  "PATCH /v1/oauth-clients/:id": { name: "stolen", enabled: false },
  "POST /v1/webhooks/:id/rotate-secret": { overlapSeconds: 0 },
  "POST /v1/webhooks/:id/recover": { since: "2020-01-01T00:00:00Z" },
  "POST /v1/webhooks/:id/replay": { since: "2020-01-01T00:00:00Z" },
  "POST /v1/webhooks/:id/test": { event: "webhook.test" },
};

// /v1/accounts/:id and /v1/deployment/… are the operator's own inventory, not tenant-scoped: they are
// covered in auth.test.ts and oauth.test.ts.
// /v1/oauth-users/:id names a user, not a row: its isolation is tested in oauth.test.ts.
const tenantIdRoutes = appRoutes().filter(
  (r) =>
    r.path.includes(":id") &&
    !r.path.startsWith("/v1/accounts") &&
    !r.path.startsWith("/v1/deployment/") &&
    !r.path.startsWith("/v1/oauth-users"),
);
const resourceOf = (path: string) => Object.keys(resources).find((p) => path.startsWith(`${p}/`));

describe("every row belongs to one account", () => {
  it("the matrix covers every tenant :id route", () => {
    expect(tenantIdRoutes.length).toBeGreaterThanOrEqual(8);
    for (const r of tenantIdRoutes) {
      const name = `${r.method} ${r.path}`;
      expect(resourceOf(r.path), name).toBeDefined();
      if (r.method === "PATCH" || name.endsWith("/recover") || name.endsWith("/replay"))
        expect(bodies, name).toHaveProperty([name]);
    }
  });

  for (const route of tenantIdRoutes) {
    it(`${route.method} ${route.path}: another account's key, JWT and operator header get 404, row unchanged`, async () => {
      const resource = resources[resourceOf(route.path)!]!;
      const victim = await createAccount("pro", "Victim");
      const targetId = await resource.create(victim.id);
      const intruder = await createAccount("enterprise", "Intruder");
      const intruderKey = await createKey(intruder.id);
      const principals: [string, CallOptions][] = [
        ["key", { apiKey: intruderKey.key }],
        ["jwt", { token: await userToken({ accountId: intruder.id, role: "admin" }) }],
        ["operator in another account", { token: ADMIN, accountId: intruder.id }],
      ];
      const read = () =>
        resource.read?.(targetId) ??
        env.DB.prepare(`SELECT * FROM ${resource.table} WHERE id = ?`).bind(targetId).first();
      const before = await read();
      expect(before).not.toBeNull();
      for (const [who, opts] of principals) {
        const res = await call(route.method, fillPath(route.path, targetId), {
          ...opts,
          body: bodies[`${route.method} ${route.path}`],
        });
        expect(res.status, who).toBe(404);
        expect(res.body.error.code).toBe("not_found");
        expect(JSON.stringify(res.body)).not.toContain("victim key");
      }
      expect(await read()).toEqual(before);
    });
  }

  it("lists show only the caller's account", async () => {
    const a = await createAccount();
    const b = await createAccount();
    const ka = await createKey(a.id, { name: "a's" });
    await createKey(b.id, { name: "b's" });
    const res = await call("GET", "/v1/api-keys", { apiKey: ka.key });
    expect(res.body.apiKeys.map((k: { name: string }) => k.name)).toEqual(["a's"]);
  });
});

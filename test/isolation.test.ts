import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, call, createAccount, createKey, userToken, type CallOptions } from "./helpers/api";
import { appRoutes, fillPath } from "./helpers/routes";

/** A valid body for each tenant `:id` route, so the 404 comes from isolation, not validation. */
const bodies: Record<string, unknown> = {
  "PATCH /v1/api-keys/:id": { name: "stolen", enabled: false },
  "POST /v1/api-keys/:id/rotate": { gracePeriodSeconds: 0 },
};

// /v1/accounts/:id is the operator's own inventory, not tenant-scoped: it is covered in auth.test.ts.
const tenantIdRoutes = appRoutes().filter((r) => r.path.includes(":id") && !r.path.startsWith("/v1/accounts"));

describe("every row belongs to one account", () => {
  it("the matrix covers every tenant :id route", () => {
    expect(tenantIdRoutes.length).toBeGreaterThanOrEqual(4);
    for (const r of tenantIdRoutes) {
      if (r.method === "PATCH" || r.method === "POST") expect(bodies, `${r.method} ${r.path}`).toHaveProperty(`${r.method} ${r.path}`);
    }
  });

  for (const route of tenantIdRoutes) {
    it(`${route.method} ${route.path}: another account's key, JWT and operator header get 404, row unchanged`, async () => {
      const victim = await createAccount("pro", "Victim");
      const target = await createKey(victim.id, { name: "victim key" });
      const intruder = await createAccount("enterprise", "Intruder");
      const intruderKey = await createKey(intruder.id);
      const principals: [string, CallOptions][] = [
        ["key", { apiKey: intruderKey.key }],
        ["jwt", { token: await userToken({ accountId: intruder.id, role: "admin" }) }],
        ["operator in another account", { token: ADMIN, accountId: intruder.id }],
      ];
      const before = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?").bind(target.apiKey.id).first();
      for (const [who, opts] of principals) {
        const res = await call(route.method, fillPath(route.path, target.apiKey.id), {
          ...opts,
          body: bodies[`${route.method} ${route.path}`],
        });
        expect(res.status, who).toBe(404);
        expect(res.body.error.code).toBe("not_found");
        expect(JSON.stringify(res.body)).not.toContain("victim key");
      }
      const after = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?").bind(target.apiKey.id).first();
      expect(after).toEqual(before);
      expect((await call("GET", "/v1/whoami", { apiKey: target.key })).status).toBe(200);
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

import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, type Answer, BASE, call, createAccount, createKey } from "./helpers/api";
import { createWebhook, publish, uniqueName, waitForReceived } from "./helpers/webhooks";

const as = (accountId: string) => ({ token: ADMIN, accountId });

async function createSession(accountId: string, body: Record<string, unknown> = {}) {
  const res = await call("POST", "/v1/portal-sessions", { token: ADMIN, body: { accountId, ...body } });
  if (res.status !== 201) throw new Error(`portal session failed: ${JSON.stringify(res.body)}`);
  return res.body.portalSession as { id: string; url: string; expiresAt: string; linkExpiresAt: string };
}

/** Opens a link the way a browser does (no redirect followed): the answer and the cookie it set. */
async function open(url: string) {
  const res = await exports.default.fetch(new Request(url, { redirect: "manual" }));
  const text = await res.text();
  const setCookie = res.headers.get("set-cookie");
  const cookie = setCookie ? (setCookie.split(";")[0] ?? "") : null;
  return { status: res.status, headers: res.headers, text, setCookie, cookie };
}

/** A request of the portal page: its cookie and its header. */
function portal(cookie: string | null, method: string, path: string, body?: unknown, header = true) {
  const headers: Record<string, string> = {};
  if (cookie) headers.cookie = cookie;
  if (header) headers["x-keyhook-portal"] = "1";
  return call(method, `/portal/api${path}`, { headers, body });
}

async function signedIn(accountId: string, capabilities: string[]) {
  const session = await createSession(accountId, { capabilities });
  const opened = await open(session.url);
  expect(opened.status).toBe(303);
  return { session, cookie: opened.cookie as string };
}

describe("customer portal sessions", () => {
  it("a link opens once into an HttpOnly, Secure, SameSite=None, Partitioned cookie; again it is refused", async () => {
    const account = await createAccount();
    const session = await createSession(account.id, { capabilities: ["webhooks:write"], expiresIn: 600 });
    expect(session.url).toMatch(new RegExp(`^${BASE}/portal/open\\?token=khp_[0-9A-Za-z]{40}$`));
    expect(Date.parse(session.linkExpiresAt) - Date.now()).toBeLessThanOrEqual(600_000);
    expect(Date.parse(session.expiresAt) - Date.now()).toBeGreaterThan(590_000);

    const first = await open(session.url);
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe("/portal/");
    const attrs = (first.setCookie ?? "").toLowerCase();
    expect(first.cookie).toMatch(/^__Secure-keyhook_portal=[0-9A-Za-z]{43}$/);
    for (const a of ["httponly", "secure", "samesite=none", "partitioned", "path=/portal", "max-age="]) {
      expect(attrs).toContain(a);
    }
    // Never in the page: the secret is not in the body or a URL the page can read.
    expect(first.text).not.toContain(first.cookie?.split("=")[1]);

    const again = await open(session.url);
    expect(again.status).toBe(410);
    expect(again.setCookie).toBeNull();
    expect(again.text).toContain("can no longer be used");

    const page = await call("GET", "/portal/", { headers: { cookie: first.cookie as string } });
    expect(page.status).toBe(200);
    expect(page.body).toContain("/admin/portal.js");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("frame-ancestors https://app.keyhook.test");
    expect(csp).toContain("img-src 'self' data: https://app.keyhook.test");
    expect(page.headers.get("x-frame-options")).toBeNull();
    expect((await call("GET", "/portal/")).status).toBe(401);
    expect((await call("GET", "/portal", { headers: { cookie: first.cookie as string } })).status).toBe(200);

    const me = await portal(first.cookie, "GET", "/session");
    expect(me.status).toBe(200);
    expect(me.body.session).toMatchObject({
      id: session.id,
      accountId: account.id,
      accountName: "Acme",
      capabilities: ["webhooks:read", "webhooks:write"],
    });
  });

  it("two opens racing each other: exactly one gets a session", async () => {
    const account = await createAccount();
    const session = await createSession(account.id);
    const answers = await Promise.all(Array.from({ length: 6 }, () => open(session.url)));
    expect(answers.map((a) => a.status).sort()).toEqual([303, 410, 410, 410, 410, 410]);
  });

  it("a link past its 15 minutes, a session past its end, a revoked one: refused", async () => {
    const account = await createAccount();
    const stale = await createSession(account.id);
    await env.DB.prepare("UPDATE portal_sessions SET link_expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, stale.id)
      .run();
    expect((await open(stale.url)).status).toBe(410);

    const { session, cookie } = await signedIn(account.id, ["webhooks:read"]);
    expect((await portal(cookie, "GET", "/v1/webhooks")).status).toBe(200);
    await env.DB.prepare("UPDATE portal_sessions SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, session.id)
      .run();
    const ended = await portal(cookie, "GET", "/v1/webhooks");
    expect(ended.status).toBe(401);
    expect(ended.body.error.code).toBe("invalid_credentials");
    expect((await call("GET", "/portal/", { headers: { cookie } })).status).toBe(401);

    // Revoked: the next request is refused; a revoked link never opens.
    const live = await signedIn(account.id, ["webhooks:write"]);
    expect((await portal(live.cookie, "GET", "/v1/webhooks")).status).toBe(200);
    const revoked = await call("DELETE", `/v1/portal-sessions/${live.session.id}`, as(account.id));
    expect(revoked.status).toBe(200);
    expect((await portal(live.cookie, "GET", "/v1/webhooks")).status).toBe(401);
    expect((await call("DELETE", `/v1/portal-sessions/${live.session.id}`, as(account.id))).status).toBe(200);
    const unopened = await createSession(account.id);
    await call("DELETE", `/v1/portal-sessions/${unopened.id}`, as(account.id));
    expect((await open(unopened.url)).status).toBe(410);
    const other = await createAccount();
    expect((await call("DELETE", `/v1/portal-sessions/${unopened.id}`, as(other.id))).status).toBe(404);

    // Signing out ends it too.
    const out = await signedIn(account.id, ["webhooks:read"]);
    expect((await portal(out.cookie, "POST", "/logout")).status).toBe(200);
    expect((await portal(out.cookie, "GET", "/v1/webhooks")).status).toBe(401);

    // A deleted account's sessions end with it.
    const gone = await createAccount();
    const goneSession = await signedIn(gone.id, ["webhooks:read"]);
    expect((await call("DELETE", `/v1/accounts/${gone.id}`, { token: ADMIN })).status).toBeLessThan(300);
    expect((await portal(goneSession.cookie, "GET", "/v1/webhooks")).status).toBe(401);
  });

  it("needs the page's header (CSRF) and a cookie; an unknown or malformed one is refused", async () => {
    const account = await createAccount();
    const { cookie } = await signedIn(account.id, ["webhooks:write"]);
    const forged = await portal(cookie, "POST", "/v1/webhooks", { url: "https://example.com/h", events: ["*"] }, false);
    expect(forged.status).toBe(403);
    expect((await call("GET", "/v1/webhooks", as(account.id))).body.webhooks).toHaveLength(0);
    expect((await portal(null, "GET", "/v1/webhooks")).status).toBe(401);
    expect((await portal("__Secure-keyhook_portal=x", "GET", "/v1/webhooks")).status).toBe(401);
    const wrong = `__Secure-keyhook_portal=${"A".repeat(43)}`;
    expect((await portal(wrong, "GET", "/v1/webhooks")).status).toBe(401);
    // The plain cookie name (without the __Secure- prefix a browser enforces) is not read.
    expect((await portal(cookie.replace("__Secure-", ""), "GET", "/v1/webhooks")).status).toBe(401);
  });

  it("who may make one: the operator for any account, a key with portal:write for its own, within what it holds", async () => {
    const account = await call("POST", "/v1/accounts", {
      token: ADMIN,
      body: { name: "Ext", plan: "pro", externalId: `ext_${uniqueName()}` },
    });
    const { id, externalId } = account.body.account;
    const byExternal = await call("POST", "/v1/portal-sessions", { token: ADMIN, body: { externalId } });
    expect(byExternal.status).toBe(201);
    expect(byExternal.body.portalSession.accountId).toBe(id);
    const header = await call("POST", "/v1/portal-sessions", { ...as(id), body: {} });
    expect(header.status).toBe(201);
    expect(header.body.portalSession.capabilities).toEqual(["webhooks:read"]);
    const refuse = async (body: Record<string, unknown>, status: number, opts: Record<string, unknown> = {}) => {
      const res = await call("POST", "/v1/portal-sessions", { token: ADMIN, body, ...opts });
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      return res.body;
    };
    await refuse({}, 400);
    await refuse({ externalId: "nobody-has-this" }, 404);
    await refuse({ accountId: "acc_missing" }, 404);
    await refuse({ accountId: id, externalId }, 400);
    await refuse({ accountId: id, capabilities: ["keys:write"] }, 400);
    await refuse({ accountId: id, capabilities: [] }, 400);
    await refuse({ accountId: id, expiresIn: 30 }, 400);
    await refuse({ accountId: id, expiresIn: 86_401 }, 400);
    await refuse({ accountId: id, returnUrl: "javascript:alert(1)" }, 400);
    await refuse({ accountId: id, theme: { accent: "red" } }, 400);
    await refuse({ accountId: id, theme: { logoUrl: "https://evil.example/logo.png" } }, 400);
    await refuse({ accountId: id, theme: { logoUrl: "http://app.keyhook.test/logo.png" } }, 400);
    await refuse({ accountId: id, theme: { logoUrl: "data:text/html;base64,PGgxPg==" } }, 400);
    await refuse({ accountId: id, theme: { name: "x", unknown: 1 } }, 400);
    const themed = await call("POST", "/v1/portal-sessions", {
      token: ADMIN,
      body: {
        accountId: id,
        returnUrl: "https://app.keyhook.test/settings",
        theme: { name: "Acme", accent: "#4f46e5", logoUrl: "https://app.keyhook.test/logo.png" },
      },
    });
    expect(themed.status).toBe(201);
    const dataLogo = { name: "Acme", logoUrl: "data:image/png;base64,iVBORw0KGgo=" };
    const withData = await createSession(id, { theme: dataLogo, returnUrl: "https://app.keyhook.test/" });
    const opened = await open(withData.url);
    const seen = await portal(opened.cookie, "GET", "/session");
    expect(seen.body.session).toMatchObject({ theme: dataLogo, returnUrl: "https://app.keyhook.test/" });

    // A key: its own account only, and only capabilities it holds.
    const { key } = await createKey(id, { scopes: ["portal:write", "webhooks:read"] });
    const own = await call("POST", "/v1/portal-sessions", { apiKey: key, body: { capabilities: ["webhooks:read"] } });
    expect(own.status).toBe(201);
    expect(own.body.portalSession.accountId).toBe(id);
    const beyond = await call("POST", "/v1/portal-sessions", {
      apiKey: key,
      body: { capabilities: ["webhooks:write"] },
    });
    expect(beyond.status).toBe(403);
    expect(beyond.body.error.details.missing).toEqual(["webhooks:write"]);
    const other = await createAccount();
    const elsewhere = await call("POST", "/v1/portal-sessions", { apiKey: key, body: { accountId: other.id } });
    expect(elsewhere.status).toBe(403);
    const { key: plain } = await createKey(id, { scopes: ["webhooks:write"] });
    expect((await call("POST", "/v1/portal-sessions", { apiKey: plain, body: {} })).status).toBe(403);
    expect((await call("DELETE", `/v1/portal-sessions/${own.body.portalSession.id}`, { apiKey: plain })).status).toBe(
      403,
    );
    expect((await call("DELETE", `/v1/portal-sessions/${own.body.portalSession.id}`, { apiKey: key })).status).toBe(
      200,
    );

    // Audited in the account's log: the session made, and what a session changed, by whom.
    const log = await call("GET", "/v1/audit-log?limit=100", as(id));
    const actions = log.body.entries.map((e: { action: string }) => e.action);
    expect(actions).toContain("portal_session.created");
    expect(actions).toContain("portal_session.revoked");
  });
});

describe("capabilities, on every route the portal reaches", () => {
  type Call = [method: string, path: string, body?: unknown];
  async function setUp() {
    const account = await createAccount();
    const name = uniqueName();
    await call("POST", "/v1/event-types", { ...as(account.id), body: { name: "order.paid", examples: [{ id: 1 }] } });
    const { webhook } = await createWebhook(account.id, {
      url: `${env.RECEIVER_URL}/ok/${name}`,
      events: ["order.paid"],
    });
    const event = (await publish(account.id, { type: "order.paid", entity: { id: 1 } })).body.event;
    await waitForReceived(name, 1);
    let deliveryId = "";
    await expect
      .poll(async () => {
        const attempts = await call("GET", `/v1/webhooks/${webhook.id}/attempts`, as(account.id));
        deliveryId = attempts.body.attempts[0]?.deliveryId ?? "";
        return deliveryId;
      })
      .not.toBe("");
    const since = new Date(Date.now() - 60_000).toISOString();
    const disposable = async () =>
      (await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${uniqueName()}` })).webhook.id as string;
    const calls: Record<string, (() => Promise<Call>)[]> = {
      "webhooks:read": [
        async () => ["GET", "/v1/webhooks"],
        async () => ["GET", `/v1/webhooks/${webhook.id}`],
        async () => ["GET", `/v1/webhooks/${webhook.id}/attempts`],
        async () => ["GET", "/v1/events?limit=5"],
        async () => ["GET", "/v1/events/export"],
        async () => ["GET", `/v1/events/${event.id}`],
        async () => ["GET", "/v1/event-types"],
        async () => ["GET", "/v1/event-types/order.paid"],
        async () => ["GET", "/v1/catalog/openapi.json"],
      ],
      "webhooks:write": [
        async () => ["POST", "/v1/webhooks", { url: `${env.RECEIVER_URL}/ok/${uniqueName()}`, events: ["*"] }],
        async () => ["PATCH", `/v1/webhooks/${webhook.id}`, { description: "changed in the portal" }],
        async () => ["DELETE", `/v1/webhooks/${await disposable()}`],
        async () => ["GET", `/v1/webhooks/${webhook.id}/secret`],
        async () => ["GET", `/v1/webhooks/${webhook.id}/headers`],
        async () => ["POST", `/v1/webhooks/${await disposable()}/rotate-secret`, {}],
        async () => ["POST", `/v1/webhooks/${webhook.id}/test`, { event: "order.paid" }],
      ],
      "events:replay": [
        async () => ["POST", `/v1/webhooks/${webhook.id}/replay`, { since }],
        async () => ["POST", `/v1/webhooks/${webhook.id}/recover`, { since }],
        async () => ["POST", "/v1/replays", { since }],
        async () => ["POST", `/v1/deliveries/${deliveryId}/retry`],
      ],
    };
    return { account, webhook, calls };
  }

  it("each session reaches what its capabilities allow, and gets 403 naming the one it lacks elsewhere", async () => {
    const { account, calls } = await setUp();
    const sessions: Record<string, string[]> = {
      read: ["webhooks:read"],
      write: ["webhooks:write"],
      replay: ["events:replay"],
      all: ["webhooks:write", "events:replay"],
    };
    for (const [label, capabilities] of Object.entries(sessions)) {
      const { cookie } = await signedIn(account.id, capabilities);
      const held = new Set(["webhooks:read", ...capabilities]);
      for (const [capability, makers] of Object.entries(calls)) {
        for (const make of makers) {
          const [method, path, body] = await make();
          const res: Answer = await portal(cookie, method, path, body);
          const what = `${label}: ${method} ${path} → ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`;
          if (held.has(capability)) {
            expect(res.status, what).toBeGreaterThanOrEqual(200);
            expect(res.status, what).toBeLessThan(300);
          } else {
            expect(res.status, what).toBe(403);
            expect(res.body.error.details.missing, what).toEqual([capability]);
          }
        }
      }
    }
  });

  it("nothing outside the portal's routes, nor another account's records, is reachable", async () => {
    const { account, webhook } = await setUp();
    const other = await createAccount();
    const { cookie } = await signedIn(other.id, ["webhooks:write", "events:replay"]);
    expect((await portal(cookie, "GET", `/v1/webhooks/${webhook.id}`)).status).toBe(404);
    expect((await portal(cookie, "PATCH", `/v1/webhooks/${webhook.id}`, { description: "x" })).status).toBe(404);
    expect(
      (await portal(cookie, "POST", `/v1/webhooks/${webhook.id}/replay`, { since: new Date(0).toISOString() })).status,
    ).toBe(404);
    const outside: Call[] = [
      ["POST", "/v1/events", { type: "order.paid", entity: {} }],
      ["POST", "/v1/event-types", { name: "x.y" }],
      ["GET", "/v1/api-keys"],
      ["POST", "/v1/api-keys", { name: "k" }],
      ["GET", "/v1/audit-log"],
      ["GET", "/v1/deployment/audit-log"],
      ["GET", "/v1/whoami"],
      ["GET", "/v1/account"],
      ["GET", "/v1/accounts"],
      ["DELETE", `/v1/events/x/content`],
      ["POST", "/v1/portal-sessions", {}],
      ["GET", "/v1/webhooks/../api-keys"],
    ];
    for (const [method, path, body] of outside) {
      const res = await portal(cookie, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect((await call("GET", "/v1/webhooks", as(account.id))).body.webhooks).toHaveLength(1);
  });

  it("what a session changes is audited as the portal session", async () => {
    const account = await createAccount();
    const { session, cookie } = await signedIn(account.id, ["webhooks:write"]);
    const made = await portal(cookie, "POST", "/v1/webhooks", {
      url: `${env.RECEIVER_URL}/ok/${uniqueName()}`,
      events: ["*"],
    });
    expect(made.status).toBe(201);
    const log = await call("GET", "/v1/audit-log?limit=100", as(account.id));
    const entry = log.body.entries.find((e: { action: string }) => e.action === "webhook.created");
    expect(entry.actor).toMatchObject({ type: "portal", id: session.id });
  });
});

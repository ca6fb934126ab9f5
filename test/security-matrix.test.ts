import { env } from "cloudflare:workers";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ADMIN, type CallOptions, call, createAccount, createKey } from "./helpers/api";
import { createClient, discover, tokensFor } from "./helpers/oauth";
import { appRoutes, fillPath } from "./helpers/routes";

/** Routes anyone may call; the OAuth endpoints authenticate clients their own way (test/oauth.test.ts). */
const PUBLIC = new Set([
  "GET /health",
  "GET /openapi.json",
  "GET /api/v1/health",
  "GET /v2/liveness",
  "POST /v2/liveness",
]);
/** Svix's API answers in Svix's error shape (`{code, detail}`; a 401 is `authentication_failed`). */
const isSvix = (path: string) => path.startsWith("/api/v1/");
/** Unkey's API answers in Unkey's (`{meta, error: {title, detail, status, type}}`): the code ends its `type`. */
const isUnkey = (path: string) => path.startsWith("/v2/");
// /mcp speaks JSON-RPC: its credentials are tested in mcp.test.ts, its tools are the routes here.
// /__edge/purge is plumbing between Keyhook processes (the operator token only: test/edge.test.ts).
// /portal/* takes a session cookie, never a key or token (test/portal.test.ts).
const isOAuthEndpoint = (path: string) =>
  path.startsWith("/oauth/") ||
  path.startsWith("/.well-known/") ||
  path === "/mcp" ||
  path.startsWith("/__edge/") ||
  path.startsWith("/portal");
/** Routes a key with no permissions may still call: they only describe the caller. */
const SELF = new Set(["GET /v1/whoami", "GET /v1/account"]);

const routes = appRoutes().filter((r) => !PUBLIC.has(`${r.method} ${r.path}`) && !isOAuthEndpoint(r.path));

interface Credential {
  name: string;
  options: () => CallOptions;
  expect: (route: string) => { status: number; code: string };
}

const logged: string[] = [];
const answers: string[] = [];
const secrets: string[] = [];
let creds: Record<string, string>;

beforeAll(async () => {
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logged.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
    });
  }
  const account = await createAccount("pro");
  // Every route once per credential: more requests than a pro plan's hourly limit allows a key.
  await call("PATCH", `/v1/accounts/${account.id}`, { token: ADMIN, body: { limits: { rateLimitPerHour: 100_000 } } });
  const free = await createAccount("free");
  const make = async (accountId: string, body: Record<string, unknown> = {}) => {
    const { key, apiKey } = await createKey(accountId, body);
    secrets.push(key);
    return { key, id: apiKey.id };
  };
  const revoked = await make(account.id);
  await call("DELETE", `/v1/api-keys/${revoked.id}`, { token: ADMIN, accountId: account.id });
  const expired = await make(account.id);
  await env.DB.prepare("UPDATE api_keys SET expires_at = 1 WHERE id = ?").bind(expired.id).run();
  const disabled = await make(account.id);
  await call("PATCH", `/v1/api-keys/${disabled.id}`, { token: ADMIN, accountId: account.id, body: { enabled: false } });
  const none = await make(account.id, { scopes: [] });
  const freeKey = await make(free.id);
  const valid = (await make(account.id)).key;
  // OAuth access tokens: expired, revoked (its client disabled), of a free account, and one whose
  // user holds nothing (its permissions are the scopes ∩ the user's: none).
  const token = async (accountId: string, scopes = ["keys:read"]) => {
    const app = await createClient(accountId, { scopes });
    secrets.push(app.clientSecret!);
    const res = await call("POST", "/oauth/token", {
      headers: {
        authorization: `Basic ${btoa(`${app.client.id}:${app.clientSecret}`)}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
    secrets.push(res.body.access_token);
    return { token: res.body.access_token as string, clientId: app.client.id };
  };
  const expiredToken = await token(account.id);
  await env.DB.prepare("UPDATE oauth_tokens SET expires_at = 1 WHERE client_id = ?").bind(expiredToken.clientId).run();
  const revokedToken = await token(account.id);
  await call("PATCH", `/v1/oauth-clients/${revokedToken.clientId}`, {
    token: ADMIN,
    accountId: account.id,
    body: { enabled: false },
  });
  const freeToken = await token(account.id);
  await env.DB.prepare("UPDATE oauth_tokens SET account_id = ? WHERE client_id = ?")
    .bind(free.id, freeToken.clientId)
    .run();
  const app = await createClient(account.id, { scopes: ["keys:read"] });
  secrets.push(app.clientSecret!);
  const userless = await tokensFor(
    await discover(),
    { client_id: app.client.id },
    oauth.ClientSecretBasic(app.clientSecret!),
    { clientId: app.client.id, user: { accountId: account.id, sub: "user_nothing", permissions: [] } },
  );
  secrets.push(userless.access_token, userless.refresh_token!);
  const operatorKey = await call("POST", "/v1/deployment/operator-keys", { token: ADMIN, body: { name: "matrix" } });
  await call("DELETE", `/v1/deployment/operator-keys/${operatorKey.body.operatorKey.id}`, { token: ADMIN });
  secrets.push(operatorKey.body.key);
  creds = {
    operatorRevoked: operatorKey.body.key,
    revoked: revoked.key,
    expired: expired.key,
    disabled: disabled.key,
    none: none.key,
    free: freeKey.key,
    malformed: `${valid.slice(0, -1)}${valid.endsWith("a") ? "b" : "a"}`,
    tokenExpired: expiredToken.token,
    tokenRevoked: revokedToken.token,
    tokenFree: freeToken.token,
    tokenNone: userless.access_token,
    tokenMalformed: `${userless.access_token.slice(0, -1)}${userless.access_token.endsWith("a") ? "b" : "a"}`,
    unknown: "kh_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" + "000000",
  };
  const hashes = await env.DB.prepare(
    "SELECT hash FROM api_keys UNION ALL SELECT key_hash FROM operator_keys UNION ALL SELECT hash FROM oauth_tokens UNION ALL SELECT secret_hash FROM oauth_clients WHERE secret_hash IS NOT NULL",
  ).all<{ hash: string }>();
  secrets.push(...hashes.results.map((r) => r.hash), env.ADMIN_TOKEN, env.JWT_SECRET, env.WEBHOOK_SECRET_KEY);
});

afterAll(() => {
  vi.restoreAllMocks();
});

const unauthorized = (code: string) => () => ({ status: 401, code });
const CREDENTIALS: Credential[] = [
  { name: "no credentials", options: () => ({}), expect: unauthorized("missing_credentials") },
  {
    name: "a malformed key",
    options: () => ({ apiKey: creds.malformed }),
    expect: unauthorized("invalid_credentials"),
  },
  { name: "an unknown key", options: () => ({ apiKey: creds.unknown }), expect: unauthorized("invalid_credentials") },
  { name: "a revoked key", options: () => ({ apiKey: creds.revoked }), expect: unauthorized("invalid_credentials") },
  { name: "an expired key", options: () => ({ apiKey: creds.expired }), expect: unauthorized("key_expired") },
  { name: "a disabled key", options: () => ({ apiKey: creds.disabled }), expect: unauthorized("key_disabled") },
  {
    name: "a wrong operator token",
    options: () => ({ token: "not-the-operator" }),
    expect: unauthorized("invalid_credentials"),
  },
  {
    name: "a revoked operator key",
    options: () => ({ token: creds.operatorRevoked }),
    expect: unauthorized("invalid_credentials"),
  },
  {
    name: "a free-plan key",
    options: () => ({ apiKey: creds.free }),
    expect: () => ({ status: 403, code: "plan_no_api_access" }),
  },
  {
    name: "a key with no permissions",
    options: () => ({ apiKey: creds.none }),
    expect: (route) => (SELF.has(route) ? { status: 200, code: "" } : { status: 403, code: "insufficient_scope" }),
  },
  {
    name: "an expired access token",
    options: () => ({ token: creds.tokenExpired }),
    expect: unauthorized("invalid_credentials"),
  },
  {
    name: "a revoked access token",
    options: () => ({ token: creds.tokenRevoked }),
    expect: unauthorized("invalid_credentials"),
  },
  {
    name: "a malformed access token",
    options: () => ({ token: creds.tokenMalformed }),
    expect: unauthorized("invalid_credentials"),
  },
  {
    name: "an access token of a free-plan account",
    options: () => ({ token: creds.tokenFree }),
    expect: () => ({ status: 403, code: "plan_no_api_access" }),
  },
  {
    name: "an access token whose user holds nothing",
    options: () => ({ token: creds.tokenNone }),
    expect: (route) => (SELF.has(route) ? { status: 200, code: "" } : { status: 403, code: "insufficient_scope" }),
  },
];

describe("the security matrix: every route × every kind of bad credential", () => {
  it("covers every non-public route", () => {
    expect(routes.length).toBeGreaterThanOrEqual(30);
  });

  for (const cred of CREDENTIALS) {
    it(`${cred.name} → the expected status on every route`, async () => {
      const failures: string[] = [];
      for (const [i, r] of routes.entries()) {
        const route = `${r.method} ${r.path}`;
        const res = await call(r.method, fillPath(r.path, "x_1"), {
          ...cred.options(),
          // One address per request: the failed-authentication limiter (tested on its own) stays out of it.
          headers: { "cf-connecting-ip": `198.51.${CREDENTIALS.indexOf(cred)}.${i}` },
          body: ["POST", "PATCH"].includes(r.method) ? {} : undefined,
        });
        answers.push(JSON.stringify(res.body));
        const expected = cred.expect(route);
        const want =
          isSvix(r.path) && expected.status === 401 ? { ...expected, code: "authentication_failed" } : expected;
        const code = isSvix(r.path)
          ? res.body?.code
          : isUnkey(r.path)
            ? String(res.body?.error?.type ?? "")
                .split("/")
                .at(-1)
            : res.body?.error?.code;
        const got = { status: res.status, code: res.status >= 400 ? code : "" };
        if (got.status !== want.status || got.code !== want.code)
          failures.push(`${route}: ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`);
      }
      expect(failures).toEqual([]);
    });
  }

  it("no answer and no log line held a secret, a key or a key hash", async () => {
    expect(answers.length).toBeGreaterThan(300);
    const leaked = secrets.filter((s) => [...logged, ...answers].some((text) => text.includes(s)));
    expect(leaked).toEqual([]);
  });
});

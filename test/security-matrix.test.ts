import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ADMIN, type CallOptions, call, createAccount, createKey } from "./helpers/api";
import { appRoutes, fillPath } from "./helpers/routes";

/** Routes anyone may call. */
const PUBLIC = new Set(["GET /health", "GET /openapi.json"]);
/** Routes a key with no permissions may still call: they only describe the caller. */
const SELF = new Set(["GET /v1/whoami", "GET /v1/account"]);

const routes = appRoutes().filter((r) => !PUBLIC.has(`${r.method} ${r.path}`));

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
  creds = {
    revoked: revoked.key,
    expired: expired.key,
    disabled: disabled.key,
    none: none.key,
    free: freeKey.key,
    malformed: `${valid.slice(0, -1)}${valid.endsWith("a") ? "b" : "a"}`,
    unknown: "kh_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" + "000000",
  };
  const hashes = await env.DB.prepare("SELECT hash FROM api_keys").all<{ hash: string }>();
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
    name: "a free-plan key",
    options: () => ({ apiKey: creds.free }),
    expect: () => ({ status: 403, code: "plan_no_api_access" }),
  },
  {
    name: "a key with no permissions",
    options: () => ({ apiKey: creds.none }),
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
        const want = cred.expect(route);
        const got = { status: res.status, code: res.status >= 400 ? res.body?.error?.code : "" };
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

import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ADMIN, call, createAccount, createKey, userToken } from "./helpers/api";
import { createClient } from "./helpers/oauth";
import { appRoutes, fillPath } from "./helpers/routes";

const routes = appRoutes();
const METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "HEAD"];

describe("no input yields a 5xx", () => {
  it("10,000 random requests: methods, paths, credentials, headers, JSON and non-JSON bodies, huge and deeply nested values, hostile patterns and schemas, unicode", async () => {
    const account = await createAccount("enterprise");
    const { key, apiKey } = await createKey(account.id);
    const jwt = await userToken({ accountId: account.id, role: "admin" });
    const app = await createClient(account.id, { scopes: ["keys:read"] });
    const basic = `Basic ${btoa(`${app.client.id}:${app.clientSecret}`)}`;
    const granted = await call("POST", "/oauth/token", {
      headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    });
    const accessToken = granted.body.access_token as string;
    const credentials = fc.constantFrom<Record<string, string>>(
      {},
      { authorization: `Bearer ${ADMIN}`, "x-account-id": account.id },
      { authorization: `Bearer ${ADMIN}` },
      { "x-api-key": key },
      { authorization: `Bearer ${jwt}` },
      { authorization: "Bearer eyJhbGciOiJub25lIn0.e30." },
      { "x-api-key": `kh_live_${"A".repeat(38)}` },
      { authorization: "Bearer" },
      { "x-api-key": key, "x-act-as": "user_1" },
      { authorization: `Bearer ${accessToken}` },
      { authorization: `Bearer kh_at_${"A".repeat(38)}` },
      { authorization: basic },
      { authorization: "Basic !!!" },
      { authorization: `Basic ${btoa("%zz:%")}` },
    );
    // OAuth form bodies: every field the endpoints read, with real and made-up values.
    const oauthForm = fc
      .record(
        {
          grant_type: fc.constantFrom("client_credentials", "authorization_code", "refresh_token", "password", ""),
          code: fc.oneof(fc.string(), fc.constant(`kh_ac_${"B".repeat(38)}`)),
          code_verifier: fc.string({ maxLength: 200 }),
          redirect_uri: fc.oneof(fc.webUrl(), fc.string()),
          refresh_token: fc.string(),
          scope: fc.oneof(fc.constantFrom("keys:read", "*", "keys:read keys:write", "bad scope"), fc.string()),
          client_id: fc.oneof(fc.constant(app.client.id), fc.string()),
          client_secret: fc.string(),
          token: fc.oneof(fc.constant(accessToken), fc.string()),
          request: fc.string(),
          decision: fc.constantFrom("allow", "deny"),
        },
        { requiredKeys: [] },
      )
      .map((v) => new URLSearchParams(v).toString());
    // A type whose schema holds the catastrophic pattern and a $ref fan-out, checked on publish.
    const $defs: Record<string, unknown> = { d30: { pattern: "^(a+)+$" } };
    for (let i = 0; i < 30; i++)
      $defs[`d${i}`] = { allOf: [{ $ref: `#/$defs/d${i + 1}` }, { $ref: `#/$defs/d${i + 1}` }] };
    const slow = await call("POST", "/v1/event-types", {
      token: ADMIN,
      accountId: account.id,
      body: {
        name: "slow.thing",
        validate: true,
        schema: { $defs, properties: { v: { pattern: "^(a+)+$" }, w: { $ref: "#/$defs/d0" } } },
      },
    });
    expect(slow.status).toBe(201);
    const ids = fc.oneof(fc.constant(apiKey.id), fc.constant(account.id), fc.string({ maxLength: 40 }));
    // Hostile values, placed anywhere a body has a field: JSON nested around the limit and far past
    // it (as a marker, replaced in the text: such values cannot be built and stringified here),
    // strings the catastrophic pattern backtracks on, schemas whose patterns backtrack.
    const DEEP = "__deep__";
    const deep = fc.integer({ min: 60, max: 30_000 }).map((d) => `${DEEP}${d}`);
    const hostileString = fc
      .integer({ min: 20, max: 40_000 })
      .chain((n) => fc.constantFrom(`${"a".repeat(n)}!`, `http://${"a".repeat(n)}!`, `${"a@".repeat(n)}`));
    const hostilePattern = fc.constantFrom(
      "^(a+)+$",
      "(\\w+\\s?)*$",
      "a*b",
      "^(a|a)*$",
      "(a)\\1",
      "(?=a)",
      "(",
      "a{9999}",
    );
    const hostileSchema = hostilePattern.map((pattern) => ({
      type: "object",
      properties: { v: { type: "string", pattern }, u: { format: "url" } },
      patternProperties: { [pattern]: { uniqueItems: true } },
    }));
    const hostile = fc.oneof(deep, hostileString, hostileSchema, fc.jsonValue({ maxDepth: 3 }));
    const withDeep = (text: string) =>
      text.replace(new RegExp(`"${DEEP}(\\d+)"`, "g"), (_, d) => `${"[".repeat(Number(d))}${"]".repeat(Number(d))}`);
    const jsonish = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc
        .record(
          {
            name: fc.oneof(fc.string(), fc.integer()),
            scopes: fc.oneof(fc.array(fc.string()), fc.constant(null)),
            expiresInDays: fc.oneof(fc.integer(), fc.double()),
            expiresAt: fc.oneof(
              fc.string(),
              fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
            ),
            metadata: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })),
            plan: fc.string(),
            gracePeriodSeconds: fc.integer(),
            enabled: fc.oneof(fc.boolean(), fc.string()),
            permissions: fc.oneof(fc.array(fc.constantFrom("keys:read", "*", "x:y", "bad")), fc.string()),
            profileId: fc.oneof(fc.string(), fc.constant(null)),
            key: fc.oneof(fc.constant(key), fc.string()),
            limits: fc.record({ maxActiveKeys: fc.oneof(fc.integer(), fc.constant(null)) }, { requiredKeys: [] }),
            deep: hostile,
          },
          { requiredKeys: [] },
        )
        .map((v) => withDeep(JSON.stringify(v))),
      fc.string({ unit: "binary" }),
      fc.string({ unit: "grapheme", maxLength: 300 }).map((t) => JSON.stringify({ name: t, type: t, url: t })),
      fc.integer({ min: 1, max: 400 }).map((d) => `${"[".repeat(d)}${"]".repeat(d)}`), // deeply nested
      fc.integer({ min: 60_000, max: 70_000 }).map((n) => JSON.stringify({ name: "x".repeat(n) })), // near and over 64 KiB
      oauthForm,
      fc.constant(undefined),
    );
    // Bodies shaped for the routes that take tenant JSON, with hostile values where the values go:
    // each sent to its own route, so they get past the shape and reach what walks or matches them.
    const shaped = fc.oneof(
      fc
        .record({
          type: fc.constantFrom("slow.thing", "fuzz.thing"),
          entity: fc.oneof(fc.record({ v: hostileString, w: hostileString, deep }, { requiredKeys: [] }), hostile),
        })
        .map((body) => ({ path: "/v1/events", body })),
      fc
        .record(
          {
            name: fc.constant("fuzz.typed"),
            schema: fc.oneof(hostileSchema, hostile),
            examples: fc.array(fc.record({ v: hostile })),
            validate: fc.boolean(),
          },
          { requiredKeys: ["name"] },
        )
        .map((body) => ({ path: "/v1/event-types", body })),
      fc
        .record({
          url: fc.constant(`${env.RECEIVER_URL}/fuzz`),
          events: fc.constant(["*"]),
          filter: fc.array(
            fc.record({ field: fc.constantFrom("v", "a.b"), op: fc.constantFrom("eq", "in"), value: hostile }),
            { maxLength: 3 },
          ),
        })
        .map((body) => ({ path: "/v1/webhooks", body })),
      fc
        .record({ name: fc.constant("k"), metadata: fc.record({ x: hostile }) })
        .map((body) => ({ path: "/v1/api-keys", body })),
    );
    const contentType = fc.constantFrom(
      "application/json",
      "text/plain",
      "application/json; charset=utf-8",
      "application/x-www-form-urlencoded",
      "",
    );
    const randomPath = fc.array(
      fc.oneof(fc.constantFrom("v1", "api-keys", "webhooks", "..", "%2e%2e", "admin"), fc.string({ maxLength: 12 })),
      { maxLength: 5 },
    );
    const anyRequest = fc.record({
      route: fc.oneof(
        { weight: 9, arbitrary: fc.constantFrom(...routes) },
        {
          weight: 1,
          arbitrary: randomPath.map((parts) => ({
            method: "GET",
            path: `/${parts.map(encodeURIComponent).join("/")}`,
          })),
        },
      ),
      method: fc.option(fc.constantFrom(...METHODS), { nil: undefined }),
      credential: credentials,
      body: jsonish,
      contentType,
    });
    const targeted = fc.record({
      shaped,
      credential: fc.constantFrom<Record<string, string>>(
        { authorization: `Bearer ${ADMIN}`, "x-account-id": account.id },
        { "x-api-key": key },
      ),
    });
    const request = fc.record({
      target: fc.oneof(
        { weight: 3, arbitrary: anyRequest },
        {
          weight: 1,
          arbitrary: targeted.map(({ shaped: { path, body }, credential }) => ({
            route: { method: "POST", path },
            method: undefined,
            credential,
            body: withDeep(JSON.stringify(body)),
            contentType: "application/json",
          })),
        },
      ),
      id: ids,
      query: fc.constantFrom(
        "",
        "?limit=0",
        "?limit=5&cursor=zzz",
        "?limit=abc",
        "?api_key=x",
        `?response_type=code&client_id=${app.client.id}&code_challenge=${"c".repeat(43)}&code_challenge_method=S256&redirect_uri=https%3A%2F%2Fclient.example%2Fcb&login_token=${jwt}`,
        `?client_id=${app.client.id}&redirect_uri=https%3A%2F%2Fevil.example%2F`,
      ),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ target, id, query }) => {
        const r = { ...target, id, query };
        const method = r.method ?? r.route.method;
        const headers: Record<string, string> = { ...r.credential };
        if (r.contentType) headers["content-type"] = r.contentType;
        const hasBody = r.body !== undefined && method !== "GET" && method !== "HEAD";
        const res = await call(method, fillPath(r.route.path, r.id) + r.query, {
          headers,
          body: hasBody ? r.body : undefined,
        });
        expect(res.status).toBeLessThan(500);
        // The OAuth endpoints answer in RFC 6749's shape, or (authorize) with an error page.
        const oauthShaped = res.body?.error !== undefined && typeof res.body.error === "string";
        if (res.status >= 400 && oauthShaped && r.route.path.startsWith("/oauth/")) {
          expect(res.body.error_description).toBeTypeOf("string");
        } else if (
          res.status >= 400 &&
          (r.route.path.startsWith("/oauth/authorize") ||
            r.route.path === "/portal/open" ||
            r.route.path === "/portal/" ||
            r.route.path === "/portal" ||
            r.route.path === "/portal/open") &&
          method !== "HEAD" &&
          typeof res.body === "string"
        ) {
          // Pages a browser opens answer a page (the portal's: "this link can no longer be used").
          expect(res.headers.get("content-type")).toContain("text/html");
        } else if (res.status >= 400 && r.route.path === "/mcp" && typeof res.body?.jsonrpc === "string") {
          // JSON-RPC's own error shape (a malformed MCP message).
          expect(res.body.error.message).toBeTypeOf("string");
        } else if (res.status >= 400 && r.route.path.startsWith("/api/v1") && method !== "HEAD") {
          // Svix's API answers in Svix's shapes: 422 {detail: [{loc, msg, type}]}, else {code, detail}.
          if (res.status === 422) expect(Array.isArray(res.body.detail)).toBe(true);
          else expect(res.body.code).toBeTypeOf("string");
        } else if (res.status >= 400 && r.route.path.startsWith("/v2/") && method !== "HEAD") {
          // Unkey's API answers in Unkey's shape: {meta: {requestId}, error: {title, detail, status, type}}.
          expect(res.body.meta.requestId).toBeTypeOf("string");
          expect(res.body.error).toMatchObject({
            title: expect.any(String),
            detail: expect.any(String),
            status: res.status,
          });
        } else if (res.status >= 400 && method !== "HEAD") {
          expect(res.body.error.code).toBeTypeOf("string");
          expect(res.body.error.message).toBeTypeOf("string");
        }
      }),
      { numRuns: 10_000 },
    );
  }, 600_000);
});

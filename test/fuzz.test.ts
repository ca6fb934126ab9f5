import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ADMIN, call, createAccount, createKey, userToken } from "./helpers/api";
import { createClient } from "./helpers/oauth";
import { appRoutes, fillPath } from "./helpers/routes";

const routes = appRoutes();
const METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "HEAD"];

describe("no input yields a 5xx", () => {
  it("10,000 random requests: methods, paths, credentials, headers, JSON and non-JSON bodies, huge and deeply nested values, unicode", async () => {
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
    const ids = fc.oneof(fc.constant(apiKey.id), fc.constant(account.id), fc.string({ maxLength: 40 }));
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
          },
          { requiredKeys: [] },
        )
        .map((v) => JSON.stringify(v)),
      fc.string({ unit: "binary" }),
      fc.string({ unit: "grapheme", maxLength: 300 }).map((t) => JSON.stringify({ name: t, type: t, url: t })),
      fc.integer({ min: 1, max: 400 }).map((d) => `${"[".repeat(d)}${"]".repeat(d)}`), // deeply nested
      fc.integer({ min: 60_000, max: 70_000 }).map((n) => JSON.stringify({ name: "x".repeat(n) })), // near and over 64 KiB
      oauthForm,
      fc.constant(undefined),
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
    const request = fc.record({
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
      id: ids,
      credential: credentials,
      body: jsonish,
      contentType,
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
      fc.asyncProperty(request, async (r) => {
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
        } else if (res.status >= 400 && method !== "HEAD") {
          expect(res.body.error.code).toBeTypeOf("string");
          expect(res.body.error.message).toBeTypeOf("string");
        }
      }),
      { numRuns: 10_000 },
    );
  }, 600_000);
});

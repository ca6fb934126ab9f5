import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ADMIN, call, createAccount, createKey, userToken } from "./helpers/api";
import { appRoutes, fillPath } from "./helpers/routes";

const routes = appRoutes();
const METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "HEAD"];

describe("no input yields a 5xx", () => {
  it("10,000 random requests: methods, paths, credentials, headers, JSON and non-JSON bodies, huge and deeply nested values, unicode", async () => {
    const account = await createAccount("enterprise");
    const { key, apiKey } = await createKey(account.id);
    const jwt = await userToken({ accountId: account.id, role: "admin" });
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
    );
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
      fc.constant(undefined),
    );
    const contentType = fc.constantFrom("application/json", "text/plain", "application/json; charset=utf-8", "");
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
      query: fc.constantFrom("", "?limit=0", "?limit=5&cursor=zzz", "?limit=abc", "?api_key=x"),
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
        if (res.status >= 400 && method !== "HEAD") {
          expect(res.body.error.code).toBeTypeOf("string");
          expect(res.body.error.message).toBeTypeOf("string");
        }
      }),
      { numRuns: 10_000 },
    );
  }, 600_000);
});

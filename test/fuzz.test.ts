import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ADMIN, call, createAccount, createKey, userToken } from "./helpers/api";
import { appRoutes, fillPath } from "./helpers/routes";

const routes = appRoutes();
const METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "HEAD"];

describe("no input yields a 5xx", () => {
  it("random methods, credentials, headers and bodies on every route", async () => {
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
      { "x-api-key": "kh_live_" + "A".repeat(38) },
      { authorization: "Bearer" },
      { "x-api-key": key, "x-act-as": "user_1" },
    );
    const ids = fc.oneof(fc.constant(apiKey.id), fc.constant(account.id), fc.string({ maxLength: 40 }));
    const jsonish = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.record({
        name: fc.oneof(fc.string(), fc.integer()),
        scopes: fc.oneof(fc.array(fc.string()), fc.constant(null)),
        expiresInDays: fc.oneof(fc.integer(), fc.double()),
        expiresAt: fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
        metadata: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })),
        plan: fc.string(),
        gracePeriodSeconds: fc.integer(),
        enabled: fc.oneof(fc.boolean(), fc.string()),
        permissions: fc.oneof(fc.array(fc.constantFrom("keys:read", "*", "x:y", "bad")), fc.string()),
        profileId: fc.oneof(fc.string(), fc.constant(null)),
        key: fc.oneof(fc.constant(key), fc.string()),
        limits: fc.record({ maxActiveKeys: fc.oneof(fc.integer(), fc.constant(null)) }, { requiredKeys: [] }),
      }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
      fc.string({ unit: "binary" }),
      fc.constant(undefined),
    );
    const contentType = fc.constantFrom("application/json", "text/plain", "application/json; charset=utf-8", "");
    const request = fc.record({
      route: fc.constantFrom(...routes),
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
      { numRuns: 1500 },
    );
  }, 120_000);
});

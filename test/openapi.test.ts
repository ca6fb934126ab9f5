import { describe, expect, it } from "vitest";
import { errorStatus } from "../src/lib/errors";
import { call } from "./helpers/api";
import { appRoutes } from "./helpers/routes";

/**
 * Served by the Worker but not API operations: the document itself, and the OAuth protocol
 * endpoints, which their RFCs define and the RFC 8414 metadata describes (form bodies, RFC 6749 errors).
 */
const NOT_OPERATIONS = new Set([
  "GET /openapi.json",
  "GET /.well-known/oauth-authorization-server",
  "GET /.well-known/oauth-protected-resource",
  "GET /.well-known/oauth-protected-resource/mcp",
  "GET /oauth/authorize",
  "POST /oauth/authorize",
  "POST /oauth/token",
  "POST /oauth/revoke",
  "POST /oauth/introspect",
  "POST /oauth/register",
  // MCP (JSON-RPC over Streamable HTTP): its tools are the routes documented here.
  "POST /mcp",
  "GET /mcp",
  "DELETE /mcp",
  // Plumbing between Keyhook processes (a local edge cache's purge), not the API.
  "POST /__edge/purge",
  // The customer portal's page and its cookie-session API (docs/portal.md): the page's own, not the API.
  "GET /portal/open",
  "GET /portal",
  "GET /portal/",
  "GET /portal/api/session",
  "POST /portal/api/logout",
  "ALL /portal/api/v1/*",
]);

describe("GET /openapi.json", () => {
  it("is OpenAPI 3.1 with both security schemes", async () => {
    const res = await call("GET", "/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    expect(res.body.info).toMatchObject({ title: "Keyhook API", version: expect.any(String) });
    expect(res.body.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: "http", scheme: "bearer" }),
      apiKey: expect.objectContaining({ type: "apiKey", in: "header", name: "X-API-Key" }),
    });
  });

  it("lists every error code, with the status each carries in the one table", async () => {
    const doc = (await call("GET", "/openapi.json")).body;
    const codes = doc.components.schemas.Error.properties.error.properties.code.enum as string[];
    expect([...codes].sort()).toEqual(Object.keys(errorStatus).sort());
    // Every status a route documents is the status of some code.
    const statuses = new Set<string>(Object.values(errorStatus).map(String));
    for (const ops of Object.values(doc.paths as Record<string, Record<string, { responses: object }>>)) {
      for (const op of Object.values(ops)) {
        for (const status of Object.keys(op.responses)) if (Number(status) >= 400) expect(statuses).toContain(status);
      }
    }
  });

  it("lists every route the Worker serves, and nothing else", async () => {
    const doc = (await call("GET", "/openapi.json")).body;
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`),
    );
    const served = appRoutes()
      .map((r) => `${r.method} ${r.path}`)
      .filter((r) => !NOT_OPERATIONS.has(r))
      // Svix's API (docs/svix.md): Svix's paths and shapes, described by Svix's own documents.
      .filter((r) => !r.split(" ")[1]?.startsWith("/api/v1"))
      // Unkey's API (docs/unkey.md): Unkey's paths and shapes, described by Unkey's own spec.
      .filter((r) => !r.split(" ")[1]?.startsWith("/v2/"));
    expect(documented.sort()).toEqual(served.sort());
  });

  it("every operation has a tag, its error responses in the shared shape, and security unless public", async () => {
    const doc = (await call("GET", "/openapi.json")).body;
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const name = `${method.toUpperCase()} ${path}`;
        expect(op.tags?.length, name).toBeGreaterThan(0);
        if (path === "/health") continue;
        expect(op.security, name).toEqual([{ bearer: [] }, { apiKey: [] }]);
        for (const status of ["401", "403", "429"]) {
          expect(op.responses[status]?.content["application/json"].schema, `${name} ${status}`).toEqual({
            $ref: "#/components/schemas/Error",
          });
        }
        if (op.requestBody) expect(op.responses["400"], `${name} 400`).toBeDefined();
      }
    }
    expect(doc.components.schemas.Error).toBeDefined();
  });
});

describe("docs/openapi.json", () => {
  it("is the document the Worker serves (regenerate with npm run openapi)", async () => {
    const committed = (await import("../docs/openapi.json")).default as { paths: unknown; components: unknown };
    const served = (await call("GET", "/openapi.json")).body;
    expect(JSON.parse(JSON.stringify(committed.paths))).toEqual(served.paths);
    expect(JSON.parse(JSON.stringify(committed.components))).toEqual(served.components);
  });
});

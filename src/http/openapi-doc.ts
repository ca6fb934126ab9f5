import type { OpenAPIHono } from "@hono/zod-openapi";
import { BUILT_IN_TYPES } from "../features/events/catalog";
import { webhooksSection } from "../features/events/catalog-document";
import { KEYHOOK_VERSION } from "../lib/version";
import type { AppEnv } from "./context";

const OPENAPI_PATH = "/openapi.json";

const DESCRIPTION = `API keys and signed webhooks for your SaaS, on Cloudflare Workers.

Authenticate with \`Authorization: Bearer <token>\` — an API key (\`kh_live_…\`), a user JWT (HS256)
or the operator token — or with \`X-API-Key: <key>\`. The operator acts inside an account by naming
it in \`X-Account-Id\`. Every error is \`{"error": {"code", "message", "details"?, "requestId"}}\`.`;

/**
 * Serves the OpenAPI 3.1 document generated from the same `createRoute()` contracts that validate
 * requests, with the two security schemes every authenticated route accepts.
 */
export function registerOpenApi(app: OpenAPIHono<AppEnv>) {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "An API key (kh_live_…), a user JWT (HS256) or the operator token",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "apiKey",
    in: "header",
    name: "X-API-Key",
    description: "An API key",
  });
  app.get(OPENAPI_PATH, (c) => c.json(openApiDocument(app, new URL(c.req.url).origin)));
}

/**
 * The document: the routes' contracts, and a `webhooks` section of Keyhook's own event types (an
 * account's whole catalog is `GET /v1/catalog/openapi.json`).
 * @public `npm run openapi` (scripts/openapi.mjs) writes docs/openapi.json with it.
 */
export function openApiDocument(app: OpenAPIHono<AppEnv>, origin: string) {
  return { ...app.getOpenAPI31Document(documentConfig(origin)), webhooks: webhooksSection(BUILT_IN_TYPES) };
}

/** The document's frame. */
function documentConfig(origin: string) {
  return {
    openapi: "3.1.0",
    info: { title: "Keyhook API", version: KEYHOOK_VERSION, description: DESCRIPTION },
    servers: [{ url: origin, description: "This deployment" }],
    tags: [
      { name: "Health", description: "Liveness" },
      { name: "Auth", description: "Who is calling" },
      { name: "Accounts", description: "Tenants and their plans (operator only)" },
      { name: "API keys", description: "Issue, scope, rate-limit, verify, rotate and revoke keys" },
      { name: "Permission profiles", description: "Named, reusable permission sets" },
      { name: "Audit log", description: "Every change, who made it and from where" },
      { name: "Webhooks", description: "Subscriptions, signing secrets and their rotation" },
      { name: "Deliveries", description: "Delivery history, retries, recovery and test events" },
      { name: "Events", description: "Publishing events and the event catalog" },
      { name: "Deployment", description: "The deployment's storage and its budget (operator only)" },
    ],
  };
}

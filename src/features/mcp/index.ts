import { StreamableHTTPTransport } from "@hono/mcp";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Context } from "hono";
import type { AppEnv } from "../../http/context";
import { ADMITTED_HEADER, authenticate, withAdmission } from "../../http/middleware/auth";
import { ApiError } from "../../lib/errors";
import { KEYHOOK_VERSION } from "../../lib/version";
import { inputSchemaOf, partsOf, TOOLS, type Tool } from "./tools";

/** The path of a route with `{id}` filled in, and its query string, from a tool's arguments. */
function requestOf(tool: Tool, args: Record<string, unknown>) {
  const { params, query } = partsOf(tool.route);
  let path = tool.route.path;
  const search = new URLSearchParams();
  const body: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(args)) {
    if (value === undefined) continue;
    if (name in params) path = path.replace(`{${name}}`, encodeURIComponent(String(value)));
    else if (name in query) search.set(name, String(value));
    else body[name] = value;
  }
  const hasBody = tool.route.method !== "get" && tool.route.method !== "delete";
  return { path: search.size > 0 ? `${path}?${search}` : path, body: hasBody ? JSON.stringify(body) : undefined };
}

/**
 * Runs the tool's route through the app for the admitted caller: the route's own validation,
 * permission and handler, and its answer as the tool's result (an error answer: `isError`).
 */
async function call(app: OpenAPIHono<AppEnv>, c: Context<AppEnv>, tool: Tool, args: Record<string, unknown>) {
  const { path, body } = requestOf(tool, args);
  const admission = { principal: c.var.principal, webhooksVersion: c.var.webhooksVersion ?? null };
  return withAdmission(admission, async (handle) => {
    const headers: Record<string, string> = { [ADMITTED_HEADER]: handle };
    if (body) headers["content-type"] = "application/json";
    const inner = new Request(new URL(path, c.req.url), { method: tool.route.method.toUpperCase(), headers, body });
    const res = await app.fetch(inner, c.env, c.executionCtx);
    return { content: [{ type: "text" as const, text: await res.text() }], isError: res.status >= 400 };
  });
}

function serverFor(app: OpenAPIHono<AppEnv>, c: Context<AppEnv>) {
  const server = new McpServer({ name: "keyhook", version: KEYHOOK_VERSION });
  for (const tool of TOOLS) {
    const needs = tool.permission ? ` Requires the ${tool.permission} permission.` : "";
    server.registerTool(
      tool.name,
      {
        title: tool.route.summary,
        description: `${tool.route.summary} (${tool.route.method.toUpperCase()} ${tool.route.path}).${needs}`,
        inputSchema: inputSchemaOf(tool.route),
        annotations: { readOnlyHint: tool.readOnly, destructiveHint: tool.destructive ?? false },
      },
      (args) => call(app, c, tool, args as Record<string, unknown>),
    );
  }
  return server;
}

/**
 * `POST /mcp`: MCP Streamable HTTP, stateless (a server per request, JSON answers). API keys and
 * OAuth access tokens are admitted like on any route; without a credential the 401 names the
 * protected-resource metadata, so a client can find the authorization server and connect by itself.
 */
export function mountMcp(app: OpenAPIHono<AppEnv>) {
  app.post("/mcp", async (c) => {
    const issuer = c.var.services.platform.settings.oauth.issuer ?? new URL(c.req.url).origin;
    const challenge = {
      "WWW-Authenticate": `Bearer resource_metadata="${issuer}/.well-known/oauth-protected-resource/mcp"`,
    };
    try {
      await authenticate(c, async () => {});
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        throw new ApiError(err.code, err.message, err.details, { ...err.headers, ...challenge });
      }
      throw err;
    }
    const server = serverFor(app, c);
    const transport = new StreamableHTTPTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await server.connect(transport);
    return (await transport.handleRequest(c)) ?? c.body(null, 202);
  });
  // Stateless: no server-initiated stream to open and no session to end.
  const postOnly = () => {
    throw new ApiError("method_not_allowed", "MCP here is stateless: POST only", undefined, { Allow: "POST" });
  };
  app.get("/mcp", postOnly);
  app.delete("/mcp", postOnly);
}

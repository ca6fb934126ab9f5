import type { RouteConfig } from "@hono/zod-openapi";
import { z } from "zod";
import * as audit from "../audit/audit.routes";
import * as auth from "../auth/auth.routes";
import * as deliveries from "../deliveries/deliveries.routes";
import * as events from "../events/events.routes";
import * as keys from "../keys/keys.routes";
import * as webhooks from "../webhooks/webhooks.routes";

/**
 * Keyhook's API as MCP tools: each is one route, called through the app with the caller's own
 * admission, so it needs exactly the route's permission (its `requireScope`) and answers exactly
 * what the route answers. `permission` is for the description only; the route enforces its own.
 */
export interface Tool {
  name: string;
  route: RouteConfig;
  permission: string | null;
  /** Reads only: MCP clients may call these without asking. */
  readOnly: boolean;
  /** Cannot be undone (revoke). */
  destructive?: boolean;
}

export const TOOLS: Tool[] = [
  { name: "whoami", route: auth.whoami, permission: null, readOnly: true },
  { name: "keys_list", route: keys.list, permission: "keys:read", readOnly: true },
  { name: "keys_get", route: keys.get, permission: "keys:read", readOnly: true },
  { name: "keys_create", route: keys.create, permission: "keys:write", readOnly: false },
  { name: "keys_update", route: keys.update, permission: "keys:write", readOnly: false },
  { name: "keys_revoke", route: keys.revoke, permission: "keys:write", readOnly: false, destructive: true },
  { name: "keys_rotate", route: keys.rotate, permission: "keys:write", readOnly: false },
  { name: "keys_usage", route: keys.usage, permission: "keys:read", readOnly: true },
  { name: "webhooks_list", route: webhooks.list, permission: "webhooks:read", readOnly: true },
  { name: "webhooks_get", route: webhooks.get, permission: "webhooks:read", readOnly: true },
  { name: "webhooks_create", route: webhooks.create, permission: "webhooks:write", readOnly: false },
  { name: "webhooks_update", route: webhooks.update, permission: "webhooks:write", readOnly: false },
  { name: "webhooks_test", route: deliveries.test, permission: "webhooks:write", readOnly: false },
  { name: "webhooks_attempts", route: deliveries.attemptsList, permission: "webhooks:read", readOnly: true },
  { name: "deliveries_retry", route: deliveries.retry, permission: "events:replay or webhooks:write", readOnly: false },
  { name: "events_publish", route: events.publish, permission: "events:write", readOnly: false },
  { name: "audit_list", route: audit.list, permission: "audit:read", readOnly: true },
];

type Shape = Record<string, z.ZodType>;

/** The object schema's fields (every request part of our routes is a zod object). */
const shapeOf = (schema: unknown): Shape => ((schema as { shape?: Shape } | undefined)?.shape ?? {}) as Shape;

/** Where each of a tool's arguments goes in the request: path, query or JSON body. */
export function partsOf(route: RouteConfig) {
  const request = route.request ?? {};
  const body = (request.body?.content as Record<string, { schema: unknown }> | undefined)?.["application/json"]?.schema;
  return { params: shapeOf(request.params), query: shapeOf(request.query), body: shapeOf(body) };
}

/**
 * The tool's input schema: the route's own path, query and body schemas, side by side (no route
 * names a field twice; `tools.test` checks).
 */
export function inputSchemaOf(route: RouteConfig): z.ZodObject<Shape> {
  const { params, query, body } = partsOf(route);
  return z.object({ ...body, ...query, ...params });
}

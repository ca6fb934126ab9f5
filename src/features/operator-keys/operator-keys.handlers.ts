import type { Context } from "hono";
import type { AppEnv, AppRouteHandler as Handler } from "../../http/context";
import { auditOf } from "../../http/middleware/auth";
import type * as routes from "./operator-keys.routes";
import type { OperatorKeyCaller } from "./operator-keys.service";

const callerOf = (c: Context<AppEnv>): OperatorKeyCaller => ({
  audit: auditOf(c),
  permissions: c.var.principal.permissions,
});

export const create: Handler<typeof routes.create> = async (c) => {
  return c.json(await c.var.services.operatorKeys.create(callerOf(c), c.req.valid("json")), 201);
};

export const list: Handler<typeof routes.list> = async (c) => {
  const { limit, cursor } = c.req.valid("query");
  return c.json(await c.var.services.operatorKeys.list(limit, cursor), 200);
};

export const get: Handler<typeof routes.get> = async (c) => {
  return c.json({ operatorKey: await c.var.services.operatorKeys.get(c.req.valid("param").id) }, 200);
};

export const update: Handler<typeof routes.update> = async (c) => {
  const { id } = c.req.valid("param");
  return c.json({ operatorKey: await c.var.services.operatorKeys.update(callerOf(c), id, c.req.valid("json")) }, 200);
};

export const revoke: Handler<typeof routes.revoke> = async (c) => {
  return c.json({ operatorKey: await c.var.services.operatorKeys.revoke(callerOf(c), c.req.valid("param").id) }, 200);
};

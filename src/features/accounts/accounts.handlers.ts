import type { AppRouteHandler as Handler } from "../../http/context";
import { auditOf } from "../../http/middleware/auth";
import type * as routes from "./accounts.routes";

export const create: Handler<typeof routes.create> = async (c) => {
  return c.json({ account: await c.var.services.accounts.create(auditOf(c), c.req.valid("json")) }, 201);
};

export const list: Handler<typeof routes.list> = async (c) => {
  const { limit, cursor, externalId } = c.req.valid("query");
  return c.json(await c.var.services.accounts.list(limit, cursor, externalId), 200);
};

export const get: Handler<typeof routes.get> = async (c) => {
  return c.json({ account: await c.var.services.accounts.get(c.req.valid("param").id) }, 200);
};

export const update: Handler<typeof routes.update> = async (c) => {
  const account = await c.var.services.accounts.update(auditOf(c), c.req.valid("param").id, c.req.valid("json"));
  return c.json({ account }, 200);
};

export const remove: Handler<typeof routes.remove> = async (c) => {
  return c.json(await c.var.services.accounts.remove(auditOf(c), c.req.valid("param").id), 200);
};

export const current: Handler<typeof routes.current> = async (c) => {
  return c.json({ account: await c.var.services.accounts.get(c.var.accountId) }, 200);
};

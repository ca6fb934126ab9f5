import type { AppRouteHandler as Handler } from "../../context";
import { auditOf } from "../../middleware/auth";
import type * as routes from "./accounts.routes";
import * as service from "./accounts.service";

export const create: Handler<typeof routes.create> = async (c) => {
  const account = await service.createAccount(c.var.db, auditOf(c), c.req.valid("json"), Date.now());
  return c.json({ account }, 201);
};

export const list: Handler<typeof routes.list> = async (c) => {
  const { limit, cursor } = c.req.valid("query");
  return c.json(await service.listAccounts(c.var.db, limit, cursor), 200);
};

export const get: Handler<typeof routes.get> = async (c) => {
  return c.json({ account: await service.getAccount(c.var.db, c.req.valid("param").id) }, 200);
};

export const update: Handler<typeof routes.update> = async (c) => {
  const { id } = c.req.valid("param");
  const account = await service.updateAccount(c.var.db, auditOf(c), id, c.req.valid("json"), Date.now());
  return c.json({ account }, 200);
};

export const current: Handler<typeof routes.current> = async (c) => {
  return c.json({ account: await service.getAccount(c.var.db, c.var.accountId) }, 200);
};

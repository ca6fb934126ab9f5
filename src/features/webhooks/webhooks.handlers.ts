import type { AppRouteHandler as Handler } from "../../http/context";
import { callerOf } from "../../http/middleware/auth";
import type * as routes from "./webhooks.routes";

export const create: Handler<typeof routes.create> = async (c) => {
  return c.json(await c.var.services.webhooks.create(callerOf(c), c.req.valid("json")), 201);
};

export const list: Handler<typeof routes.list> = async (c) => {
  const { limit, cursor } = c.req.valid("query");
  return c.json(await c.var.services.webhooks.list(callerOf(c), limit, cursor), 200);
};

export const get: Handler<typeof routes.get> = async (c) => {
  return c.json({ webhook: await c.var.services.webhooks.get(callerOf(c), c.req.valid("param").id) }, 200);
};

export const update: Handler<typeof routes.update> = async (c) => {
  const webhook = await c.var.services.webhooks.update(callerOf(c), c.req.valid("param").id, c.req.valid("json"));
  return c.json({ webhook }, 200);
};

export const remove: Handler<typeof routes.remove> = async (c) => {
  await c.var.services.webhooks.remove(callerOf(c), c.req.valid("param").id);
  return c.json({ success: true as const }, 200);
};

export const secret: Handler<typeof routes.secret> = async (c) => {
  return c.json({ secret: await c.var.services.webhooks.secret(callerOf(c), c.req.valid("param").id) }, 200);
};

export const headers: Handler<typeof routes.headers> = async (c) => {
  return c.json({ headers: await c.var.services.webhooks.headers(callerOf(c), c.req.valid("param").id) }, 200);
};

export const rotateSecret: Handler<typeof routes.rotateSecret> = async (c) => {
  return c.json(
    await c.var.services.webhooks.rotateSecret(callerOf(c), c.req.valid("param").id, c.req.valid("json")),
    200,
  );
};

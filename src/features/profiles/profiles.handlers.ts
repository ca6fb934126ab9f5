import type { AppRouteHandler as Handler } from "../../http/context";
import { callerOf } from "../../http/middleware/auth";
import type * as routes from "./profiles.routes";

export const create: Handler<typeof routes.create> = async (c) => {
  return c.json({ profile: await c.var.services.profiles.create(callerOf(c), c.req.valid("json")) }, 201);
};

export const list: Handler<typeof routes.list> = async (c) => {
  const { limit, cursor } = c.req.valid("query");
  return c.json(await c.var.services.profiles.list(callerOf(c), limit, cursor), 200);
};

export const get: Handler<typeof routes.get> = async (c) => {
  return c.json({ profile: await c.var.services.profiles.get(callerOf(c), c.req.valid("param").id) }, 200);
};

export const update: Handler<typeof routes.update> = async (c) => {
  const profile = await c.var.services.profiles.update(callerOf(c), c.req.valid("param").id, c.req.valid("json"));
  return c.json({ profile }, 200);
};

export const remove: Handler<typeof routes.remove> = async (c) => {
  await c.var.services.profiles.remove(callerOf(c), c.req.valid("param").id);
  return c.json({ success: true as const }, 200);
};

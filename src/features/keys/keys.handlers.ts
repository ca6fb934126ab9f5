import type { AppRouteHandler as Handler } from "../../http/context";
import { callerOf } from "../../http/middleware/auth";
import type * as routes from "./keys.routes";

export const create: Handler<typeof routes.create> = async (c) => {
  return c.json(await c.var.services.keys.create(callerOf(c), c.req.valid("json")), 201);
};

export const list: Handler<typeof routes.list> = async (c) => {
  const { limit, cursor } = c.req.valid("query");
  return c.json(await c.var.services.keys.list(callerOf(c), limit, cursor), 200);
};

export const get: Handler<typeof routes.get> = async (c) => {
  return c.json({ apiKey: await c.var.services.keys.get(callerOf(c), c.req.valid("param").id) }, 200);
};

export const update: Handler<typeof routes.update> = async (c) => {
  return c.json(
    { apiKey: await c.var.services.keys.update(callerOf(c), c.req.valid("param").id, c.req.valid("json")) },
    200,
  );
};

export const revoke: Handler<typeof routes.revoke> = async (c) => {
  await c.var.services.keys.revoke(callerOf(c), c.req.valid("param").id);
  return c.json({ success: true as const }, 200);
};

export const rotate: Handler<typeof routes.rotate> = async (c) => {
  return c.json(await c.var.services.keys.rotate(callerOf(c), c.req.valid("param").id, c.req.valid("json")), 200);
};

export const usage: Handler<typeof routes.usage> = async (c) => {
  return c.json(await c.var.services.keys.usage(callerOf(c), c.req.valid("param").id), 200);
};

export const usageOfMany: Handler<typeof routes.usageOfMany> = async (c) => {
  return c.json(await c.var.services.keys.usageOf(callerOf(c), c.req.valid("query").ids), 200);
};

export const adjustCredits: Handler<typeof routes.adjustCredits> = async (c) => {
  const { id } = c.req.valid("param");
  return c.json({ apiKey: await c.var.services.keys.adjustCredits(callerOf(c), id, c.req.valid("json")) }, 200);
};

import type { Context } from "hono";
import type { AppEnv, AppRouteHandler as Handler } from "../../context";
import { auditOf } from "../../middleware/auth";
import type * as routes from "./keys.routes";
import * as service from "./keys.service";
import { keyRequests } from "../ratelimit/limits";
import { emitter } from "../events/emitter";

const deps = (c: Context<AppEnv>): service.KeyDeps => ({
  db: c.var.db,
  settings: c.var.settings,
  principal: c.var.principal,
  accountId: c.var.accountId,
  audit: auditOf(c),
  now: Date.now(),
  emit: emitter(c),
});

export const create: Handler<typeof routes.create> = async (c) => {
  return c.json(await service.createKey(deps(c), c.req.valid("json")), 201);
};

export const list: Handler<typeof routes.list> = async (c) => {
  const { limit, cursor } = c.req.valid("query");
  return c.json(await service.listKeys(deps(c), limit, cursor), 200);
};

export const get: Handler<typeof routes.get> = async (c) => {
  return c.json({ apiKey: await service.getKey(deps(c), c.req.valid("param").id) }, 200);
};

export const update: Handler<typeof routes.update> = async (c) => {
  return c.json({ apiKey: await service.updateKey(deps(c), c.req.valid("param").id, c.req.valid("json")) }, 200);
};

export const revoke: Handler<typeof routes.revoke> = async (c) => {
  await service.revokeKey(deps(c), c.req.valid("param").id);
  return c.json({ success: true as const }, 200);
};

export const rotate: Handler<typeof routes.rotate> = async (c) => {
  return c.json(await service.rotateKey(deps(c), c.req.valid("param").id, c.req.valid("json")), 200);
};

export const usage: Handler<typeof routes.usage> = async (c) => {
  const counter = keyRequests(c.env.RATE_LIMITS);
  return c.json(await service.keyUsage(deps(c), counter, c.req.valid("param").id), 200);
};

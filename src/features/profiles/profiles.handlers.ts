import type { Context } from "hono";
import type { AppEnv, AppRouteHandler as Handler } from "../../context";
import { auditOf } from "../../middleware/auth";
import type * as routes from "./profiles.routes";
import * as service from "./profiles.service";

const deps = (c: Context<AppEnv>): service.ProfileDeps => ({
  db: c.var.db,
  principal: c.var.principal,
  accountId: c.var.accountId,
  audit: auditOf(c),
  now: Date.now(),
});

export const create: Handler<typeof routes.create> = async (c) => {
  return c.json({ profile: await service.createProfile(deps(c), c.req.valid("json")) }, 201);
};

export const list: Handler<typeof routes.list> = async (c) => {
  const { limit, cursor } = c.req.valid("query");
  return c.json(await service.listProfiles(deps(c), limit, cursor), 200);
};

export const get: Handler<typeof routes.get> = async (c) => {
  return c.json({ profile: await service.getProfile(deps(c), c.req.valid("param").id) }, 200);
};

export const update: Handler<typeof routes.update> = async (c) => {
  return c.json({ profile: await service.updateProfile(deps(c), c.req.valid("param").id, c.req.valid("json")) }, 200);
};

export const remove: Handler<typeof routes.remove> = async (c) => {
  await service.deleteProfile(deps(c), c.req.valid("param").id);
  return c.json({ success: true as const }, 200);
};

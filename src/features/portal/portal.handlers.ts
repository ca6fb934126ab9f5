import type { AppRouteHandler as Handler } from "../../http/context";
import { auditOf, callerOf } from "../../http/middleware/auth";
import type * as routes from "./portal.routes";

export const create: Handler<typeof routes.create> = async (c) => {
  const { services, principal } = c.var;
  const origin = services.platform.settings.oauth.issuer ?? new URL(c.req.url).origin;
  const portalSession = await services.portal.create({ principal, audit: auditOf(c) }, c.req.valid("json"), origin);
  return c.json({ portalSession }, 201);
};

export const revoke: Handler<typeof routes.revoke> = async (c) => {
  return c.json(await c.var.services.portal.revoke(callerOf(c), c.req.valid("param").id), 200);
};

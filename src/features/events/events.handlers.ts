import type { AppRouteHandler as Handler } from "../../http/context";
import { callerOf } from "../../http/middleware/auth";
import type * as routes from "./events.routes";

export const publish: Handler<typeof routes.publish> = async (c) => {
  const scope = { accountId: c.var.accountId, webhooksVersion: c.var.webhooksVersion ?? null };
  return c.json(await c.var.services.events.publish(scope, c.req.valid("json")), 202);
};

export const listTypes: Handler<typeof routes.listTypes> = async (c) => {
  const includeArchived = c.req.valid("query").includeArchived === "true";
  return c.json({ eventTypes: await c.var.services.events.listTypes(c.var.accountId, { includeArchived }) }, 200);
};

export const getType: Handler<typeof routes.getType> = async (c) => {
  return c.json({ eventType: await c.var.services.events.getType(c.var.accountId, c.req.valid("param").name) }, 200);
};

export const catalogDocument: Handler<typeof routes.catalogDocument> = async (c) => {
  const origin = c.var.services.platform.settings.oauth.issuer ?? new URL(c.req.url).origin;
  return c.json(await c.var.services.events.catalogDocument(c.var.accountId, origin), 200);
};

export const registerType: Handler<typeof routes.registerType> = async (c) => {
  return c.json({ eventType: await c.var.services.events.registerType(c.var.accountId, c.req.valid("json")) }, 201);
};

export const deleteContent: Handler<typeof routes.deleteContent> = async (c) => {
  return c.json(await c.var.services.events.deleteContent(callerOf(c), c.req.valid("param").id), 200);
};

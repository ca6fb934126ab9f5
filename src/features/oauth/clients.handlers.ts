import type { AppRouteHandler as Handler } from "../../http/context";
import { auditOf, callerOf } from "../../http/middleware/auth";
import type * as routes from "./clients.routes";

export const create: Handler<typeof routes.create> = async (c) => {
  return c.json(await c.var.services.oauthClients.create(callerOf(c), c.req.valid("json")), 201);
};

export const list: Handler<typeof routes.list> = async (c) => {
  const { limit, cursor } = c.req.valid("query");
  return c.json(await c.var.services.oauthClients.list(callerOf(c), limit, cursor), 200);
};

export const get: Handler<typeof routes.get> = async (c) => {
  return c.json({ client: await c.var.services.oauthClients.get(callerOf(c), c.req.valid("param").id) }, 200);
};

export const update: Handler<typeof routes.update> = async (c) => {
  const client = await c.var.services.oauthClients.update(callerOf(c), c.req.valid("param").id, c.req.valid("json"));
  return c.json({ client }, 200);
};

export const rotate: Handler<typeof routes.rotate> = async (c) => {
  return c.json(await c.var.services.oauthClients.rotateSecret(callerOf(c), c.req.valid("param").id), 200);
};

export const remove: Handler<typeof routes.remove> = async (c) => {
  await c.var.services.oauthClients.remove(callerOf(c), c.req.valid("param").id);
  return c.json({ success: true as const }, 200);
};

export const listGrants: Handler<typeof routes.listGrants> = async (c) => {
  const { limit, cursor, userId } = c.req.valid("query");
  return c.json(await c.var.services.oauthClients.listGrants(callerOf(c), limit, cursor, userId), 200);
};

export const revokeGrant: Handler<typeof routes.revokeGrant> = async (c) => {
  await c.var.services.oauthClients.revokeGrant(callerOf(c), c.req.valid("param").id);
  return c.json({ success: true as const }, 200);
};

export const putUser: Handler<typeof routes.putUser> = async (c) => {
  const { id } = c.req.valid("param");
  return c.json(await c.var.services.oauthClients.setUserHoldings(callerOf(c), id, c.req.valid("json")), 200);
};

export const createDeployment: Handler<typeof routes.createDeployment> = async (c) => {
  const client = await c.var.services.oauthClients.deployment.create(auditOf(c), c.req.valid("json"));
  return c.json({ client }, 201);
};

export const listDeployment: Handler<typeof routes.listDeployment> = async (c) => {
  const { limit, cursor } = c.req.valid("query");
  return c.json(await c.var.services.oauthClients.deployment.list(limit, cursor), 200);
};

export const getDeployment: Handler<typeof routes.getDeployment> = async (c) => {
  return c.json({ client: await c.var.services.oauthClients.deployment.get(c.req.valid("param").id) }, 200);
};

export const updateDeployment: Handler<typeof routes.updateDeployment> = async (c) => {
  const { id } = c.req.valid("param");
  const client = await c.var.services.oauthClients.deployment.update(auditOf(c), id, c.req.valid("json"));
  return c.json({ client }, 200);
};

export const removeDeployment: Handler<typeof routes.removeDeployment> = async (c) => {
  await c.var.services.oauthClients.deployment.remove(auditOf(c), c.req.valid("param").id);
  return c.json({ success: true as const }, 200);
};

import type { Context } from "hono";
import type { AppEnv, AppRouteHandler as Handler } from "../../context";
import { auditOf } from "../../middleware/auth";
import type * as routes from "./webhooks.routes";
import * as service from "./webhooks.service";

export const webhookDeps = (c: Context<AppEnv>): service.WebhookDeps => ({
  db: c.var.db,
  settings: c.var.settings.webhooks,
  secretKey: c.env.WEBHOOK_SECRET_KEY,
  accountId: c.var.accountId,
  audit: auditOf(c),
  now: Date.now(),
});

export const create: Handler<typeof routes.create> = async (c) => {
  return c.json(await service.createWebhook(webhookDeps(c), c.req.valid("json")), 201);
};

export const list: Handler<typeof routes.list> = async (c) => {
  const { limit, cursor } = c.req.valid("query");
  return c.json(await service.listWebhooks(webhookDeps(c), limit, cursor), 200);
};

export const get: Handler<typeof routes.get> = async (c) => {
  return c.json({ webhook: await service.getWebhook(webhookDeps(c), c.req.valid("param").id) }, 200);
};

export const update: Handler<typeof routes.update> = async (c) => {
  const webhook = await service.updateWebhook(webhookDeps(c), c.req.valid("param").id, c.req.valid("json"));
  return c.json({ webhook }, 200);
};

export const remove: Handler<typeof routes.remove> = async (c) => {
  await service.deleteWebhook(webhookDeps(c), c.req.valid("param").id);
  return c.json({ success: true as const }, 200);
};

export const secret: Handler<typeof routes.secret> = async (c) => {
  return c.json({ secret: await service.revealSecret(webhookDeps(c), c.req.valid("param").id) }, 200);
};

export const rotateSecret: Handler<typeof routes.rotateSecret> = async (c) => {
  return c.json(await service.rotateSecret(webhookDeps(c), c.req.valid("param").id, c.req.valid("json")), 200);
};

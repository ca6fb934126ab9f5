import type { AppRouteHandler as Handler } from "../../http/context";
import type * as routes from "./audit.routes";
import { DEPLOYMENT_LOG } from "./audit.service";

export const list: Handler<typeof routes.list> = async (c) => {
  return c.json(await c.var.services.audit.list(c.var.accountId, c.req.valid("query")), 200);
};

export const listDeployment: Handler<typeof routes.listDeployment> = async (c) => {
  return c.json(await c.var.services.audit.list(DEPLOYMENT_LOG, c.req.valid("query")), 200);
};

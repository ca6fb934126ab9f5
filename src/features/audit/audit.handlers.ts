import type { AppRouteHandler as Handler } from "../../context";
import { callerOf } from "../../middleware/auth";
import type * as routes from "./audit.routes";

export const list: Handler<typeof routes.list> = async (c) => {
  return c.json(await c.var.services.audit.list(callerOf(c), c.req.valid("query")), 200);
};

import type { AppRouteHandler as Handler } from "../../http/context";
import { callerOf } from "../../http/middleware/auth";
import type * as routes from "./analytics.routes";

export const verifications: Handler<typeof routes.verifications> = async (c) => {
  return c.json(await c.var.services.analytics.verifications(callerOf(c), c.req.valid("query")), 200);
};

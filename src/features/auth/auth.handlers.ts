import type { AppRouteHandler as Handler } from "../../http/context";
import type * as routes from "./auth.routes";

export const whoami: Handler<typeof routes.whoami> = (c) => {
  const { type, id, name, accountId, permissions, onBehalfOf } = c.var.principal;
  return c.json({ type, id, name, accountId, permissions, onBehalfOf: onBehalfOf ?? null }, 200);
};

export const verify: Handler<typeof routes.verify> = async (c) => {
  const { key, scopes, cost } = c.req.valid("json");
  const { principal } = c.var;
  // The operator verifies keys of every account; anyone else only their own account's.
  const accountId = principal.type === "operator" ? null : principal.accountId;
  return c.json(await c.var.services.auth.verify(key, { scopes, accountId, cost }), 200);
};

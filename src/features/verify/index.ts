import { createRouter } from "../../lib/create-router";
import { keyRequests } from "../ratelimit/limits";
import * as routes from "./verify.routes";
import { verifyKey } from "./verify.service";

export const verifyRouter = createRouter().openapi(routes.verify, async (c) => {
  const { key, scopes } = c.req.valid("json");
  const { principal } = c.var;
  const result = await verifyKey(
    {
      db: c.var.db,
      settings: c.var.settings,
      counter: keyRequests(c.env.RATE_LIMITS),
      callerAccountId: principal.type === "operator" ? null : principal.accountId,
      now: Date.now(),
      waitUntil: (p) => c.executionCtx.waitUntil(p),
    },
    key,
    scopes,
  );
  return c.json(result, 200);
});

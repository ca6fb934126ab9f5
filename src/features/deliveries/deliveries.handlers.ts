import type { AppRouteHandler as Handler } from "../../http/context";
import { callerOf } from "../../http/middleware/auth";
import type * as routes from "./deliveries.routes";

export const attempts: Handler<typeof routes.attemptsList> = async (c) => {
  const { id } = c.req.valid("param");
  return c.json(await c.var.services.deliveries.attempts(callerOf(c), id, c.req.valid("query")), 200);
};

export const retry: Handler<typeof routes.retry> = async (c) => {
  return c.json({ delivery: await c.var.services.deliveries.retry(callerOf(c), c.req.valid("param").id) }, 202);
};

export const recover: Handler<typeof routes.recover> = async (c) => {
  const count = await c.var.services.deliveries.recover(
    callerOf(c),
    c.req.valid("param").id,
    c.req.valid("json").since,
  );
  return c.json({ count }, 202);
};

export const replay: Handler<typeof routes.replay> = async (c) => {
  return c.json(await c.var.services.deliveries.replay(callerOf(c), c.req.valid("param").id, c.req.valid("json")), 202);
};

export const replayAll: Handler<typeof routes.replayAll> = async (c) => {
  return c.json(await c.var.services.deliveries.replayAll(callerOf(c), c.req.valid("json")), 202);
};

export const test: Handler<typeof routes.test> = async (c) => {
  const delivery = await c.var.services.deliveries.test(
    callerOf(c),
    c.req.valid("param").id,
    c.req.valid("json").event,
  );
  return c.json({ delivery }, 202);
};

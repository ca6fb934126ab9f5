import type { Context } from "hono";
import type { AppEnv } from "../../context";
import { createRouter } from "../../lib/create-router";
import { publishDeps } from "../events/emitter";
import * as routes from "./deliveries.routes";
import * as service from "./deliveries.service";

const deps = (c: Context<AppEnv>): service.DeliveryDeps => ({ ...publishDeps(c) });

export const deliveriesRouter = createRouter()
  .openapi(routes.attemptsList, async (c) => {
    return c.json({ attempts: await service.listAttempts(deps(c), c.req.valid("param").id) }, 200);
  })
  .openapi(routes.retry, async (c) => {
    return c.json({ delivery: await service.retryDelivery(deps(c), c.req.valid("param").id) }, 202);
  })
  .openapi(routes.recover, async (c) => {
    const count = await service.recover(deps(c), c.req.valid("param").id, Date.parse(c.req.valid("json").since));
    return c.json({ count }, 202);
  })
  .openapi(routes.test, async (c) => {
    const delivery = await service.sendTest(deps(c), c.req.valid("param").id, c.req.valid("json").event);
    return c.json({ delivery }, 202);
  });

import { createRouter } from "../../lib/create-router";
import { ApiError } from "../../lib/errors";
import { publishDeps } from "./emitter";
import * as routes from "./events.routes";
import { listEventTypes, publishEvent, registerEventType } from "./events.service";

export const eventsRouter = createRouter()
  .openapi(routes.publish, async (c) => {
    const input = c.req.valid("json");
    if (JSON.stringify(input.entity).length > routes.MAX_ENTITY_BYTES) {
      throw new ApiError("payload_too_large", "The entity is larger than 64 KiB");
    }
    const { event, deliveries } = await publishEvent(publishDeps(c), input);
    return c.json({ event, deliveries }, 202);
  })
  .openapi(routes.listTypes, async (c) => {
    return c.json({ eventTypes: await listEventTypes(c.var.db, c.var.accountId) }, 200);
  })
  .openapi(routes.registerType, async (c) => {
    const eventType = await registerEventType(c.var.db, c.var.accountId, c.req.valid("json"), Date.now());
    return c.json({ eventType }, 201);
  });

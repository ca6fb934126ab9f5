import type { Context } from "hono";
import type { AppEnv } from "../../context";
import { publishEvent } from "./events.service";

/**
 * Keyhook's own events go through the same publish path as the host's. They are published right
 * after the change's batch; if publishing fails the change stands and the failure is logged.
 */
export const emitter =
  (c: Context<AppEnv>) =>
  async (type: string, entity: Record<string, unknown>): Promise<void> => {
    const deps = { db: c.var.db, queue: c.env.DELIVERIES, accountId: c.var.accountId, now: Date.now() };
    try {
      await publishEvent(deps, { type, entity });
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "could not publish own event", type, error: String(err).slice(0, 200) }));
    }
  };

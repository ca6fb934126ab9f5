import type { Context } from "hono";
import type { AppEnv } from "../../context";
import { runnerDeps } from "../../queue/deps";
import { type PublishDeps, publishEvent } from "./events.service";

/**
 * How a request publishes: in its account, with the webhooks version its authentication read, and
 * the first attempts sent from this request's `waitUntil` as soon as the outbox is written.
 */
export const publishDeps = (c: Context<AppEnv>): PublishDeps => ({
  db: c.var.db,
  queue: c.env.DELIVERIES,
  accountId: c.var.accountId,
  now: Date.now(),
  webhooksVersion: c.var.webhooksVersion ?? null,
  firstAttempt: { runner: runnerDeps(c.env), waitUntil: (p) => c.executionCtx.waitUntil(p) },
});

/**
 * Keyhook's own events go through the same publish path as the host's. They are published right
 * after the change's batch; if publishing fails the change stands and the failure is logged.
 */
export const emitter =
  (c: Context<AppEnv>) =>
  async (type: string, entity: Record<string, unknown>): Promise<void> => {
    try {
      await publishEvent(publishDeps(c), { type, entity });
    } catch (err) {
      console.error(JSON.stringify({ level: "error", msg: "could not publish own event", type, error: String(err).slice(0, 200) }));
    }
  };

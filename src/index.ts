import { compose } from "./compose";
import { sweep } from "./cron/sweep";
import { createApp } from "./http/app";
import { countOps } from "./lib/op-count";
import { handleQueue } from "./queue/consumer";

export { CredentialRecords } from "./edge";
export { EndpointPacer } from "./features/deliveries/pacer";
export { ColoCache } from "./features/edge/colo-cache";
export { NamedLimiter } from "./features/ratelimit/named-limiter";
export { KeyhookRpc } from "./rpc";

const app = createApp();

/** The Worker's entry points: each an adapter onto the services `compose` builds for it. */
export default {
  fetch: (req, env, ctx) => {
    if (env.COUNT_OPS !== "true") return app.fetch(req, env, ctx);
    const counted = countOps(env, ctx, { kind: "fetch", method: req.method, path: new URL(req.url).pathname });
    return Promise.resolve(app.fetch(req, counted.env, counted.ctx)).finally(counted.done);
  },
  queue: (batch, env, ctx) => {
    const counted = countOps(env, ctx, { kind: "queue", queue: batch.queue, messages: batch.messages.length });
    const invocation = {
      waitUntil: (p: Promise<unknown>) => counted.ctx.waitUntil(p),
      requestId: `queue-${crypto.randomUUID()}`,
      exports: ctx.exports,
    };
    return handleQueue(batch, compose(counted.env, invocation)).finally(counted.done);
  },
  scheduled: async (_controller, env, ctx) => {
    const counted = countOps(env, ctx, { kind: "scheduled" });
    const invocation = {
      waitUntil: (p: Promise<unknown>) => counted.ctx.waitUntil(p),
      requestId: `cron-${crypto.randomUUID()}`,
      exports: ctx.exports,
    };
    await sweep(compose(counted.env, invocation)).finally(counted.done);
  },
} satisfies ExportedHandler<Env, unknown>;

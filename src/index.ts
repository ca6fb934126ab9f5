import { createApp } from "./app";
import { countOps } from "./lib/op-count";
import { handleQueue } from "./queue/consumer";
import { sweep } from "./queue/sweep";

export { KeyhookRpc } from "./rpc";

const app = createApp();

export default {
  fetch: (req, env, ctx) => {
    if (env.COUNT_OPS !== "true") return app.fetch(req, env, ctx);
    const counted = countOps(env, ctx, { kind: "fetch", method: req.method, path: new URL(req.url).pathname });
    return Promise.resolve(app.fetch(req, counted.env, counted.ctx)).finally(counted.done);
  },
  queue: (batch, env, ctx) => {
    const counted = countOps(env, ctx, { kind: "queue", queue: batch.queue, messages: batch.messages.length });
    return handleQueue(batch, counted.env).finally(counted.done);
  },
  scheduled: async (controller, env, ctx) => {
    const counted = countOps(env, ctx, { kind: "scheduled" });
    await sweep(counted.env, controller.scheduledTime).finally(counted.done);
  },
} satisfies ExportedHandler<Env, unknown>;

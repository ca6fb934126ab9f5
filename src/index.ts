import { createApp } from "./app";
import { handleQueue } from "./queue/consumer";
import { sweep } from "./queue/sweep";

export { KeyhookRpc } from "./rpc";

const app = createApp();

export default {
  fetch: app.fetch,
  queue: (batch, env) => handleQueue(batch, env),
  scheduled: async (controller, env) => {
    await sweep(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Env, unknown>;

import { createDb } from "../db/client";
import type { RunnerDeps } from "../features/deliveries/runner";
import { disableWebhooks } from "../features/webhooks/webhooks.service";
import { readSettings } from "../lib/config";

/** What sending a delivery needs, built from `env` the same way for the queue, the cron and the API. */
export function runnerDeps(env: Env, fetcher: typeof fetch = fetch): RunnerDeps {
  const db = createDb(env.DB);
  return {
    db,
    settings: readSettings(env).webhooks,
    secretKey: env.WEBHOOK_SECRET_KEY,
    fetch: fetcher,
    now: () => Date.now(),
    disable: (disablings) => disableWebhooks({ db, queue: env.DELIVERIES, now: Date.now() }, disablings),
  };
}

import { createDb } from "../db/client";
import type { DeliverDeps } from "../features/deliveries/deliver";
import { disableWebhook } from "../features/webhooks/webhooks.service";
import { readSettings } from "../lib/config";

/** The delivery job's dependencies, built from `env` the same way for the queue, the cron and the API. */
export function deliverDeps(env: Env, fetcher: typeof fetch = fetch): DeliverDeps {
  const db = createDb(env.DB);
  return {
    db,
    settings: readSettings(env).webhooks,
    secretKey: env.WEBHOOK_SECRET_KEY,
    fetch: fetcher,
    now: () => Date.now(),
    disable: (webhook, reason) => disableWebhook({ db, queue: env.DELIVERIES, now: Date.now() }, webhook, reason),
  };
}

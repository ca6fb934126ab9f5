import { createDb } from "../db/client";
import type { Job } from "../features/deliveries/attempt";
import { claimAndLoad, markFailed } from "../features/deliveries/pipeline.repo";
import { runJobs } from "../features/deliveries/runner";
import { runnerDeps } from "./deps";
import { DeliveryMessage, QUEUES } from "./messages";

/** A consumer that threw (D1 down, a bug): try the message again shortly. */
const ERROR_RETRY_SECONDS = 30;
/** A claimed delivery is this consumer's for the receiver's timeout plus this long. */
const LEASE_MARGIN_MS = 60_000;
/** A message that arrives a little early (its delay rounds down) still claims its delivery. */
const EARLY_MS = 5_000;

/**
 * Each message is acked or retried on its own, never inside a blanket catch; the batch is worked as
 * a batch: every due delivery claimed and loaded in one D1 round trip, all sent at once, outcomes
 * recorded in groups as they come back (one round trip per group).
 * @see https://developers.cloudflare.com/queues/configuration/batching-retries/
 */
export async function handleQueue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  switch (batch.queue) {
    case QUEUES.deliveries:
      return deliverBatch(batch, env);
    case QUEUES.deadLetters:
      return deadLetters(batch, env);
    default:
      throw new Error(`unknown queue ${batch.queue}`);
  }
}

async function deliverBatch(batch: MessageBatch<unknown>, env: Env) {
  const deps = runnerDeps(env);
  const byDelivery = new Map<string, Message<unknown>[]>();
  for (const message of batch.messages) {
    const parsed = DeliveryMessage.safeParse(message.body);
    if (!parsed.success) {
      await env.DELIVERIES_DLQ.send(message.body); // park the poison message where it can be seen
      message.ack();
      continue;
    }
    const same = byDelivery.get(parsed.data.deliveryId) ?? [];
    byDelivery.set(parsed.data.deliveryId, [...same, message]);
  }
  if (byDelivery.size === 0) return;
  const now = deps.now();
  const leaseUntil = now + deps.settings.timeoutMs + LEASE_MARGIN_MS;
  let claimed: Awaited<ReturnType<typeof claimAndLoad>>;
  try {
    claimed = await claimAndLoad(deps.db, [...byDelivery.keys()], now, leaseUntil, now + EARLY_MS);
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "could not claim deliveries", error: String(err).slice(0, 200) }));
    for (const messages of byDelivery.values()) for (const m of messages) m.retry({ delaySeconds: ERROR_RETRY_SECONDS });
    return;
  }
  // The first message of a claimed delivery carries its job; every other message is done: its
  // delivery is finished, not due, leased elsewhere, or a duplicate of one in this batch.
  const owner = new Map<string, Message<unknown>>();
  const jobs: Job[] = [];
  const dropped: string[] = [];
  for (const { delivery, event, webhook } of claimed) {
    const [first] = byDelivery.get(delivery.id)!;
    owner.set(delivery.id, first!);
    if (event && webhook && webhook.status === "active") jobs.push({ delivery, event, webhook });
    else {
      dropped.push(delivery.id);
      const reason = !webhook ? "webhook was deleted" : !event ? "event was deleted" : "webhook is disabled";
      console.log(JSON.stringify({ level: "info", msg: "delivery dropped", deliveryId: delivery.id, reason }));
    }
  }
  for (const [id, messages] of byDelivery) {
    for (const m of messages) if (owner.get(id) !== m || dropped.includes(id)) m.ack();
  }
  if (jobs.length === 0) {
    await markFailed(deps.db, dropped, now).catch((err) => {
      console.error(JSON.stringify({ level: "error", msg: "could not mark dropped deliveries failed", error: String(err).slice(0, 200) }));
    });
    return;
  }
  await runJobs(
    deps,
    jobs,
    (job, verdict) => {
      const message = owner.get(job.delivery.id)!;
      if (verdict.action === "ack") message.ack();
      else if (verdict.action === "retry") message.retry({ delaySeconds: verdict.delaySeconds });
      else message.retry({ delaySeconds: ERROR_RETRY_SECONDS });
    },
    dropped,
  );
}

/** Messages that exhausted the queue's own retries: their deliveries are marked failed (retryable by hand). */
async function deadLetters(batch: MessageBatch<unknown>, env: Env) {
  const db = createDb(env.DB);
  const ids: string[] = [];
  for (const message of batch.messages) {
    const parsed = DeliveryMessage.safeParse(message.body);
    if (parsed.success) ids.push(parsed.data.deliveryId);
    console.error(JSON.stringify({ level: "warn", msg: "dead-lettered delivery message", body: JSON.stringify(message.body).slice(0, 200) }));
  }
  await markFailed(db, ids, Date.now());
  for (const message of batch.messages) message.ack();
}

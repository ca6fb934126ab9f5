import { createDb } from "../db/client";
import { deliverOne } from "../features/deliveries/deliver";
import { markFailed } from "../features/deliveries/deliveries.repo";
import { deliverDeps } from "./deps";
import { DeliveryMessage, QUEUES } from "./messages";

/** A consumer that threw (D1 down, a bug): try the message again shortly. */
const ERROR_RETRY_SECONDS = 30;

/**
 * Each message is handled on its own and acked or retried on its own; a message is never acked
 * inside a blanket catch. The batch is worked concurrently: deliveries are independent.
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
  const deps = deliverDeps(env);
  await Promise.all(
    batch.messages.map(async (message) => {
      const parsed = DeliveryMessage.safeParse(message.body);
      if (!parsed.success) {
        await env.DELIVERIES_DLQ.send(message.body); // park the poison message where it can be seen
        message.ack();
        return;
      }
      let verdict;
      try {
        verdict = await deliverOne(deps, parsed.data.deliveryId);
      } catch (err) {
        console.error(JSON.stringify({ level: "error", msg: "delivery failed to run", deliveryId: parsed.data.deliveryId, error: String(err) }));
        message.retry({ delaySeconds: ERROR_RETRY_SECONDS });
        return;
      }
      if (verdict.action === "ack") message.ack();
      else message.retry({ delaySeconds: verdict.delaySeconds });
    }),
  );
}

/** Messages that exhausted the queue's own retries: their deliveries are marked failed (retryable by hand). */
async function deadLetters(batch: MessageBatch<unknown>, env: Env) {
  const db = createDb(env.DB);
  for (const message of batch.messages) {
    const parsed = DeliveryMessage.safeParse(message.body);
    if (parsed.success) {
      await markFailed(db, parsed.data.deliveryId, Date.now());
    }
    console.error(JSON.stringify({ level: "warn", msg: "dead-lettered delivery message", body: JSON.stringify(message.body).slice(0, 200) }));
    message.ack();
  }
}

import type { Services } from "../compose";
import { ERROR_RETRY_SECONDS } from "../features/deliveries/timings";
import { CONSUMER_SEEN, markSeen } from "../features/deployment/doctor";
import { describe, redact } from "../lib/log";
import { DeliveryMessage, PingMessage, QUEUES } from "./messages";

/**
 * The queue's adapter: each message is parsed, acked or retried on its own (never inside a
 * blanket catch); the deliveries service works the batch as a batch.
 * @see https://developers.cloudflare.com/queues/configuration/batching-retries/
 */
export async function handleQueue(batch: MessageBatch<unknown>, services: Services): Promise<void> {
  switch (batch.queue) {
    case QUEUES.deliveries:
      return deliverBatch(batch, services);
    case QUEUES.deadLetters:
      return deadLetters(batch, services);
    default:
      throw new Error(`unknown queue ${batch.queue}`);
  }
}

async function deliverBatch(batch: MessageBatch<unknown>, services: Services) {
  // The first message of a delivery answers for it; a duplicate in the same batch is done at once.
  const owner = new Map<string, Message<unknown>>();
  for (const message of batch.messages) {
    const parsed = DeliveryMessage.safeParse(message.body);
    if (!parsed.success && PingMessage.safeParse(message.body).success) {
      await markSeen(services.platform.db, CONSUMER_SEEN, services.platform.now()).catch(() => {});
      message.ack();
    } else if (!parsed.success) {
      await services.platform.deadLetters.send(message.body); // park the poison message where it can be seen
      message.ack();
    } else if (owner.has(parsed.data.deliveryId)) message.ack();
    else owner.set(parsed.data.deliveryId, message);
  }
  if (owner.size === 0) return;
  try {
    await services.deliveries.sendQueued([...owner.keys()], (deliveryId, verdict) => {
      const message = owner.get(deliveryId);
      if (!message) return;
      if (verdict.action === "ack") message.ack();
      else if (verdict.action === "retry") message.retry({ delaySeconds: verdict.delaySeconds });
      else message.retry({ delaySeconds: ERROR_RETRY_SECONDS });
    });
  } catch (err) {
    services.platform.log("error", "could not claim deliveries", { messages: owner.size, error: describe(err) });
    for (const m of owner.values()) m.retry({ delaySeconds: ERROR_RETRY_SECONDS });
  }
}

/** Messages that exhausted the queue's own retries: their deliveries are marked failed (retryable by hand). */
async function deadLetters(batch: MessageBatch<unknown>, services: Services) {
  const ids: string[] = [];
  for (const message of batch.messages) {
    const parsed = DeliveryMessage.safeParse(message.body);
    if (parsed.success) ids.push(parsed.data.deliveryId);
    services.platform.log("warn", "dead-lettered delivery message", {
      body: redact(JSON.stringify(message.body) ?? ""),
    });
  }
  await services.deliveries.markFailed(ids);
  for (const message of batch.messages) message.ack();
}

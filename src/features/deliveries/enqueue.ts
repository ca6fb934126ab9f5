import { describe, type Log } from "../../lib/log";

/**
 * Sends delivery ids to the queue (100 a call, the Queues limit). A failed send is harmless: the
 * deliveries are pending and due in D1, and the sweeper re-queues them.
 * @see https://developers.cloudflare.com/queues/platform/limits/
 */
export function enqueue(queue: Queue, log: Log, ids: string[]) {
  return enqueueDelayed(
    queue,
    log,
    ids.map((id) => ({ id, delaySeconds: 0 })),
  );
}

/** The same, each message held back by its own delay (a paced delivery comes back by its slot). */
export async function enqueueDelayed(queue: Queue, log: Log, items: { id: string; delaySeconds: number }[]) {
  try {
    for (let i = 0; i < items.length; i += 100) {
      await queue.sendBatch(
        items.slice(i, i + 100).map((it) => ({ body: { deliveryId: it.id }, delaySeconds: it.delaySeconds })),
      );
    }
  } catch (err) {
    log("warn", "queue send failed; the sweeper will re-queue", { deliveries: items.length, error: describe(err) });
  }
}

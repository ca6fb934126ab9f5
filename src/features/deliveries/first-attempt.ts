import { describe, type Log } from "../../lib/log";
import { deliver } from "./deliver";
import type { CommitDeps, Verdict } from "./group-commit";
import type { Job } from "./job";

/**
 * The first attempts of a publish, from the publishing invocation (in its `waitUntil`), recorded as
 * they come back. A delivery that succeeds costs no queue message at all. A failed one goes to the
 * queue after its retry delay; one whose outcome could not be recorded, after its lease (the queue
 * then sends it again). If the invocation stops before recording an outcome, the delivery stays
 * pending with its lease: the sweeper re-queues it when the lease is over (same `webhook-id`).
 */
export async function sendFirstAttempts(deps: CommitDeps & { queue: Queue }, jobs: Job[], leaseSeconds: number) {
  const later = verdictsToQueue(deps.queue, leaseSeconds, deps.log);
  await deliver(deps, jobs, (job, verdict) => later.add(job, verdict));
  await later.send();
}

/** Verdicts with no queue message to answer become messages, sent in one call for all. */
function verdictsToQueue(queue: Queue, leaseSeconds: number, log: Log) {
  const messages: { body: { deliveryId: string }; delaySeconds: number }[] = [];
  return {
    add(job: Job, verdict: Verdict) {
      if (verdict.action === "retry")
        messages.push({ body: { deliveryId: job.delivery.id }, delaySeconds: verdict.delaySeconds });
      if (verdict.action === "error")
        messages.push({ body: { deliveryId: job.delivery.id }, delaySeconds: leaseSeconds });
    },
    async send() {
      if (messages.length === 0) return;
      try {
        for (let i = 0; i < messages.length; i += 100) await queue.sendBatch(messages.slice(i, i + 100));
      } catch (err) {
        log("warn", "retry send failed; the sweeper will send it", {
          deliveries: messages.length,
          error: describe(err),
        });
      }
    },
  };
}

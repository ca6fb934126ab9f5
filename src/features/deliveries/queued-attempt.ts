import { describe } from "../../lib/log";
import { deliver } from "./deliver";
import type { CommitDeps, Verdict } from "./group-commit";
import type { Job } from "./job";
import { claimAndLoad, markFailed } from "./pipeline.repo";
import { EARLY_MS, queuedLeaseMs } from "./timings";

/**
 * A queue batch's deliveries, as a batch: every due one claimed and loaded in one D1 round trip
 * (so a duplicate message, or a second consumer, never sends one twice within its lease), all sent
 * at once, outcomes recorded by the group commit as they come back. `answer` gets each delivery's
 * verdict: ack for one that is finished, not due, leased elsewhere or whose webhook or event is
 * gone. Throws if the claim fails (nothing was sent).
 */
export async function sendQueued(
  deps: CommitDeps,
  ids: string[],
  answer: (deliveryId: string, verdict: Verdict) => void,
) {
  const at = deps.now();
  const claimed = await claimAndLoad(deps.db, ids, at, at + queuedLeaseMs(deps.settings), at + EARLY_MS);
  const jobs: Job[] = [];
  const dropped: string[] = [];
  for (const { delivery, event, webhook, snapshot } of claimed) {
    if (webhook && webhook.status === "active") jobs.push({ delivery, event, webhook, snapshot });
    else {
      dropped.push(delivery.id);
      const reason = !webhook ? "webhook was deleted" : "webhook is disabled";
      deps.log("info", "delivery dropped", { deliveryId: delivery.id, reason });
    }
  }
  const sending = new Set(jobs.map((j) => j.delivery.id));
  for (const id of ids) if (!sending.has(id)) answer(id, { action: "ack" });
  if (jobs.length === 0) {
    await markFailed(deps.db, dropped, at).catch((err) => {
      deps.log("error", "could not mark dropped deliveries failed", { error: describe(err) });
    });
    return;
  }
  await deliver(deps, jobs, (job, verdict) => answer(job.delivery.id, verdict), dropped);
}

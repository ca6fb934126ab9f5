import { describe } from "../../lib/log";
import type { SentEvent } from "../events/sent-event";
import { isEntityRef, loadEntity } from "../history/entity-object";
import { deliver } from "./deliver";
import type { CommitDeps, Verdict } from "./group-commit";
import type { Job } from "./job";
import { claimAndLoad, markFailed } from "./pipeline.repo";
import { EARLY_MS, queuedLeaseMs } from "./timings";

/**
 * The events whose entity D1 keeps in R2, with it read back (once an event): the row keeps the
 * reference (`stored`), the delivery sends the entity. A missing object throws: nothing is sent, and
 * the claims' leases run out into a retry.
 */
async function withEntities(bucket: R2Bucket, events: readonly SentEvent[]) {
  const out = new Map<string, SentEvent>();
  await Promise.all(
    events.map(async (e) => {
      if (!isEntityRef(e.entity) || out.has(e.id)) return;
      out.set(e.id, e);
      out.set(e.id, { ...e, stored: e.entity, entity: await loadEntity(bucket, e.accountId, e.id, e.entity) });
    }),
  );
  return out;
}

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
  const events = await withEntities(
    deps.bucket,
    claimed.filter((c) => c.webhook?.status === "active").map((c) => c.event),
  );
  const jobs: Job[] = [];
  const dropped: string[] = [];
  for (const { delivery, event, webhook, snapshot } of claimed) {
    const sent = events.get(event.id) ?? event;
    if (webhook && webhook.status === "active") jobs.push({ delivery, event: sent, webhook, snapshot });
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

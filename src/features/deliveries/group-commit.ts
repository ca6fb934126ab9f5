import type { Db } from "../../db/client";
import { batched } from "../../lib/batched";
import { describe, type Log } from "../../lib/log";
import { forgetTargets } from "../webhooks/targets";
import type { AttemptDeps, Outcome } from "./attempt";
import type { Job } from "./job";
import type { PaceDeps } from "./pace";
import { recordOutcomes } from "./pipeline.repo";
import { COMMIT_LINGER_MS, COMMIT_PATIENCE_MS } from "./timings";

/** What becomes of the job's queue message once its outcome is recorded. */
export type Verdict =
  | { action: "ack" }
  | { action: "retry"; delaySeconds: number }
  /** The outcome could not be recorded (D1 failed) or the attempt could not run: try again later. */
  | { action: "error" };

/** A webhook to disable after its outcome is recorded, and the failed deliveries that end with it. */
export interface Disabling {
  webhook: Job["webhook"];
  reason: string;
  deliveryIds: string[];
}

export interface CommitDeps extends AttemptDeps {
  db: Db;
  /** Where an entity too large for D1 is kept (`history/entity-object.ts`): a retry reads it. */
  bucket: R2Bucket;
  log: Log;
  /** Send slots for throttled webhooks and replays (`pace.ts`); null where the binding is absent. */
  pacer: PaceDeps["pacer"];
  /** Disables webhooks (410, or failing too long): audit entry, `webhook.disabled`, their deliveries failed. */
  disable: (disablings: Disabling[]) => Promise<void>;
}

/**
 * Group commit (`lib/batched`, the one batching mechanism of the pipeline): the outcomes of every
 * attempt in this isolate — concurrent publishes' first attempts, consumer batches — are written
 * together. An outcome handed over while no write is in flight is written at once (no added wait at
 * a light load); outcomes that arrive while one is in flight are written together by the next
 * write, which under load starts at most every {@link COMMIT_LINGER_MS}: one D1 round trip for all
 * of them. A failed write fails every outcome in it. The callers are first attempts (in their
 * publish's `waitUntil`) and queue batches, which no client cancels; should a commit still not end
 * within {@link COMMIT_PATIENCE_MS}, those waiting give up as if it had failed (their deliveries
 * are retried: at least once) and the next commit starts afresh — never written twice by us.
 */
const commit = batched<Db, { outcomes: Outcome[]; dropped: string[]; now: () => number }, void>(
  async (db, groups) => {
    const accounts = await recordOutcomes(
      db,
      groups.flatMap((g) => g.outcomes),
      groups.flatMap((g) => g.dropped),
      Math.max(...groups.map((g) => g.now())),
    );
    for (const accountId of accounts) forgetTargets(accountId);
    return groups.map(() => undefined);
  },
  { patience: COMMIT_PATIENCE_MS, onAbandon: "fail", linger: COMMIT_LINGER_MS },
);

/** Hands outcomes (and deliveries to mark failed) to the group commit; resolves once they are written. */
export function commitOutcomes(deps: Pick<CommitDeps, "db" | "now">, outcomes: Outcome[], dropped: string[]) {
  return commit(deps.db, { outcomes, dropped, now: deps.now });
}

/**
 * Disablings of one run's groups, merged per webhook (`lib/batched`, keyed by the run's own
 * `disable`): a webhook that answered 410 to twenty deliveries at once is disabled once.
 */
const disableTogether = batched<CommitDeps["disable"], Disabling, boolean>(async (disable, disablings) => {
  const byWebhook = new Map<string, Disabling>();
  for (const d of disablings) {
    const seen = byWebhook.get(d.webhook.id);
    if (!seen) byWebhook.set(d.webhook.id, { ...d, deliveryIds: [...d.deliveryIds] });
    else {
      seen.deliveryIds.push(...d.deliveryIds);
      if (d.reason.includes("410")) seen.reason = d.reason;
    }
  }
  await disable([...byWebhook.values()]);
  return disablings.map(() => true);
});

/**
 * Records a run's group of outcomes (and deliveries to mark failed) through the group commit, then
 * disables the webhooks it must, then decides each: ack a finished delivery (or one its webhook's
 * disabling ended), retry after the delay, or — the commit failed — try again later.
 */
export async function recordGroup(
  deps: CommitDeps,
  group: Outcome[],
  dropped: string[],
  decide: (job: Job, verdict: Verdict) => void,
) {
  try {
    await commitOutcomes(deps, group, dropped);
  } catch (err) {
    for (const o of group) decide(o.job, { action: "error" });
    logFailure(deps.log, "delivery outcome not recorded", group[0]?.job, err);
    return;
  }
  const ended = new Set<string>();
  await Promise.all(
    group.map(async (o) => {
      const disabling = toDisable(deps, o);
      if (!disabling) return;
      try {
        if (await disableTogether(deps.disable, disabling)) ended.add(o.delivery.id);
      } catch (err) {
        logFailure(deps.log, "could not disable a webhook", o.job, err);
      }
    }),
  );
  for (const o of group) {
    const done = o.retryInSeconds === null || ended.has(o.delivery.id);
    decide(o.job, done ? { action: "ack" } : { action: "retry", delaySeconds: o.retryInSeconds ?? 0 });
  }
}

/**
 * The webhook this outcome disables: one that answered 410 Gone, or one that has had no success for
 * `WEBHOOK_DISABLE_AFTER_HOURS` and failed again. The failing clock is the webhook row as loaded
 * with the job (the consumer's is fresh; a first attempt's is this isolate's copy, current by the
 * account's webhooks version).
 */
function toDisable(deps: CommitDeps, o: Outcome): Disabling | null {
  if (o.attempt.succeeded) return null;
  const { webhook } = o.job;
  const span = deps.settings.disableAfterHours * 3_600_000;
  const since = webhook.failingSince;
  const reason = o.gone
    ? "the endpoint answered 410 Gone"
    : since !== null && o.attempt.createdAt - since >= span
      ? `no successful delivery for ${deps.settings.disableAfterHours} hours`
      : null;
  return reason === null ? null : { webhook, reason, deliveryIds: [o.delivery.id] };
}

export function logFailure(log: Log, msg: string, job: Job | undefined, err: unknown) {
  const where = job ? { deliveryId: job.delivery.id, webhookId: job.webhook.id } : {};
  log("error", msg, { ...where, error: describe(err) });
}

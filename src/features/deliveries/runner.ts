import type { Db } from "../../db/client";
import { batched } from "../../lib/batched";
import { describe, type Log } from "../../lib/log";
import { forgetTargets } from "../webhooks/targets";
import { type AttemptDeps, attempt, type Job, type Outcome } from "./attempt";
import { recordOutcomes } from "./pipeline.repo";

/** What becomes of the job's queue message once its outcome is recorded. */
export type Verdict =
  | { action: "ack" }
  | { action: "retry"; delaySeconds: number }
  /** The outcome could not be recorded (D1 failed) or the attempt could not run: try again later. */
  | { action: "error" };

/** A webhook to disable after its group is recorded, and the failed deliveries that end with it. */
export interface Disabling {
  webhook: Job["webhook"];
  reason: string;
  deliveryIds: string[];
}

export interface RunnerDeps extends AttemptDeps {
  db: Db;
  log: Log;
  /** Disables webhooks (410, or failing too long): audit entry, `webhook.disabled`, their deliveries failed. */
  disable: (disablings: Disabling[]) => Promise<void>;
}

/**
 * Outcomes that arrive within this long of the first unrecorded one are recorded together; a
 * receiver slower than that is recorded on its own, later, and holds nobody else's record back.
 */
export const GROUP_WINDOW_MS = 25;

/**
 * Sends every job at once and records the outcomes in groups: one D1 round trip per group, the
 * first as soon as the fast receivers have answered. `onVerdict` is called for each job after its
 * group is stored. Resolves when every job has a verdict.
 */
export async function runJobs(
  deps: RunnerDeps,
  jobs: Job[],
  onVerdict: (job: Job, verdict: Verdict) => void,
  dropped: string[] = [],
): Promise<void> {
  const records: Promise<void>[] = [];
  let buffer: Outcome[] = [];
  let toDrop = dropped;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const group = buffer;
    const drops = toDrop;
    buffer = [];
    toDrop = [];
    if (group.length > 0 || drops.length > 0) records.push(record(deps, group, drops, onVerdict));
  };

  let remaining = jobs.length;
  await Promise.all(
    jobs.map(async (job) => {
      let outcome: Outcome;
      try {
        outcome = await attempt(deps, job);
      } catch (err) {
        // Signing failed (a secret that no longer opens): nothing was sent; try again later.
        logFailure(deps, "delivery attempt could not run", job, err);
        onVerdict(job, { action: "error" });
        if (--remaining === 0) flush();
        return;
      }
      buffer.push(outcome);
      if (--remaining === 0) flush();
      else if (timer === undefined) timer = setTimeout(flush, GROUP_WINDOW_MS);
    }),
  );
  if (jobs.length === 0) flush();
  await Promise.all(records);
}

/**
 * Under load, commits start at most this often and take every group that arrived meanwhile (at a
 * light load, none waits): a few ms more before an outcome shows in the history, against one D1
 * round trip per publish — each costing as much CPU on this side as on D1's.
 */
const COMMIT_LINGER_MS = 50;

/**
 * Group commit (`lib/batched`): the outcome groups of every run in this isolate (concurrent
 * publishes' first attempts, consumer batches) are written together. A group handed over while no
 * write is in flight is written at once — no added wait at a light load; groups that arrive while
 * one is in flight are written together by the next write, one D1 round trip for all of them. A
 * failed write fails every group in it. The runs that share a commit are first attempts (in
 * their publish's `waitUntil`) and queue batches, which no client cancels; should a commit still
 * not end within 30 s, those waiting for it give up as if it had failed (their deliveries are
 * queued again: at least once) and the next commit starts afresh — never written twice by us.
 */
const COMMIT_BATCHING = { patience: 30_000, onAbandon: "fail", linger: COMMIT_LINGER_MS } as const;

const commit = batched<Db, { outcomes: Outcome[]; dropped: string[]; now: () => number }, void>(async (db, groups) => {
  const accounts = await recordOutcomes(
    db,
    groups.flatMap((g) => g.outcomes),
    groups.flatMap((g) => g.dropped),
    groups[0]!.now(),
  );
  for (const accountId of accounts) forgetTargets(accountId);
  return groups.map(() => undefined);
}, COMMIT_BATCHING);

export function commitOutcomes(deps: Pick<RunnerDeps, "db" | "now">, outcomes: Outcome[], dropped: string[]) {
  return commit(deps.db, { outcomes, dropped, now: deps.now });
}

async function record(
  deps: RunnerDeps,
  group: Outcome[],
  dropped: string[],
  decide: (job: Job, verdict: Verdict) => void,
) {
  try {
    await commitOutcomes(deps, group, dropped);
  } catch (err) {
    for (const o of group) decide(o.job, { action: "error" });
    logFailure(deps, "delivery outcome not recorded", group[0]?.job, err);
    return;
  }
  const disablings = toDisable(deps, group);
  let ended = new Set<string>();
  if (disablings.length > 0) {
    try {
      await deps.disable(disablings);
      ended = new Set(disablings.flatMap((d) => d.deliveryIds));
    } catch (err) {
      logFailure(deps, "could not disable a webhook", group[0]?.job, err);
    }
  }
  for (const o of group) {
    const done = o.retryInSeconds === null || ended.has(o.delivery.id);
    decide(o.job, done ? { action: "ack" } : { action: "retry", delaySeconds: o.retryInSeconds! });
  }
}

/**
 * Webhooks this group disables: one that answered 410 Gone, or one that has had no success for
 * `WEBHOOK_DISABLE_AFTER_HOURS` and failed again. The failing clock is the webhook row as loaded
 * with the job (the consumer's is fresh; a first attempt's is this isolate's copy, current by the
 * account's webhooks version).
 */
function toDisable(deps: RunnerDeps, group: Outcome[]): Disabling[] {
  const span = deps.settings.disableAfterHours * 3_600_000;
  const byWebhook = new Map<string, Disabling>();
  for (const o of group) {
    if (o.attempt.succeeded) continue;
    const { webhook } = o.job;
    const since = webhook.failingSince;
    const reason = o.gone
      ? "the endpoint answered 410 Gone"
      : since !== null && o.attempt.createdAt - since >= span
        ? `no successful delivery for ${deps.settings.disableAfterHours} hours`
        : null;
    if (reason === null) continue;
    const entry = byWebhook.get(webhook.id) ?? { webhook, reason, deliveryIds: [] };
    if (o.gone) entry.reason = reason;
    entry.deliveryIds.push(o.delivery.id);
    byWebhook.set(webhook.id, entry);
  }
  return [...byWebhook.values()];
}

function logFailure(deps: RunnerDeps, msg: string, job: Job | undefined, err: unknown) {
  const where = job ? { deliveryId: job.delivery.id, webhookId: job.webhook.id } : {};
  deps.log("error", msg, { ...where, error: describe(err) });
}

/**
 * Verdicts that arrive with no queue message to answer (first attempts) become messages: a retry after its delay; an outcome that could not be recorded,
 * after the delivery's lease (it is then sent again). `send()` queues them, one call for all.
 */
export function verdictsToQueue(queue: Queue, leaseSeconds: number, log: Log) {
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
        log("warn", "retry send failed; the cron will send it", { deliveries: messages.length, error: describe(err) });
      }
    },
  };
}

import { attempt, type Outcome } from "./attempt";
import { type CommitDeps, logFailure, recordGroup, type Verdict } from "./group-commit";
import type { Job } from "./job";
import { deferDeliveries, delayUntil, type Paced, pace } from "./pace";
import { RUN_WINDOW_MS } from "./timings";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Paced jobs (`pace.ts`): those deferred to a later slot are written so and answered; the rest are sent. */
async function paced(
  deps: CommitDeps,
  jobs: Job[],
  onVerdict: (job: Job, verdict: Verdict) => void,
): Promise<Paced["send"]> {
  if (!jobs.some((j) => j.webhook.throttle != null || j.delivery.slotAt != null)) {
    return jobs.map((job) => ({ job, waitMs: 0 }));
  }
  const { send, defer } = await pace(deps, jobs);
  if (defer.length > 0) {
    const at = deps.now();
    try {
      await deferDeliveries(deps.db, defer, at);
      for (const d of defer) onVerdict(d.job, { action: "retry", delaySeconds: delayUntil(d.at, at) });
    } catch (err) {
      for (const d of defer) {
        logFailure(deps.log, "could not defer a paced delivery", d.job, err);
        onVerdict(d.job, { action: "error" });
      }
    }
  }
  return send;
}

/**
 * Sends every job at once and hands the outcomes to the group commit in groups: those that come
 * back within {@link RUN_WINDOW_MS} of the first unrecorded one together, a slower receiver's on
 * its own, later — it holds back nobody else's record. `onVerdict` is called for each job once its
 * outcome is stored. `dropped` (claimed deliveries whose webhook or event is gone) are marked failed
 * with the first group. Resolves when every job has a verdict.
 */
export async function deliver(
  deps: CommitDeps,
  all: Job[],
  onVerdict: (job: Job, verdict: Verdict) => void,
  dropped: string[] = [],
): Promise<void> {
  const sends = await paced(deps, all, onVerdict);
  const jobs = sends.map((s) => s.job);
  // Lanes: an unpaced job is its own; a webhook's paced jobs share one, in slot order, each sent
  // after the one before has its answer (so they arrive in order, whatever came late).
  const started = Date.now();
  const lanes = new Map<string, typeof sends>();
  for (const s of sends) {
    const key = s.slot === undefined ? `job ${s.job.delivery.id}` : `webhook ${s.job.webhook.id}`;
    lanes.set(key, [...(lanes.get(key) ?? []), s]);
  }
  for (const lane of lanes.values()) lane.sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0));
  const records: Promise<void>[] = [];
  let buffer: Outcome[] = [];
  let drops = dropped;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const group = buffer;
    const groupDrops = drops;
    buffer = [];
    drops = [];
    if (group.length > 0 || groupDrops.length > 0) records.push(recordGroup(deps, group, groupDrops, onVerdict));
  };
  let remaining = jobs.length;
  const run = async ({ job, waitMs }: (typeof sends)[number]) => {
    try {
      const wait = started + waitMs - Date.now();
      if (wait > 0) await sleep(wait);
      // Awaited first: `buffer` is replaced by each flush, and must be read after the attempt.
      const outcome = await attempt(deps, job);
      buffer.push(outcome);
    } catch (err) {
      // Signing failed (a secret that no longer opens): nothing was sent; try again later.
      logFailure(deps.log, "delivery attempt could not run", job, err);
      onVerdict(job, { action: "error" });
    }
    if (--remaining === 0) flush();
    else if (timer === undefined && buffer.length > 0) timer = setTimeout(flush, RUN_WINDOW_MS);
  };
  await Promise.all(
    [...lanes.values()].map(async (lane) => {
      for (const s of lane) await run(s);
    }),
  );
  if (jobs.length === 0) flush();
  await Promise.all(records);
}

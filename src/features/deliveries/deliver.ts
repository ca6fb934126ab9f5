import { attempt, type Outcome } from "./attempt";
import { type CommitDeps, logFailure, recordGroup, type Verdict } from "./group-commit";
import type { Job } from "./job";
import { RUN_WINDOW_MS } from "./timings";

/**
 * Sends every job at once and hands the outcomes to the group commit in groups: those that come
 * back within {@link RUN_WINDOW_MS} of the first unrecorded one together, a slower receiver's on
 * its own, later — it holds back nobody else's record. `onVerdict` is called for each job once its
 * outcome is stored. `dropped` (claimed deliveries whose webhook or event is gone) are marked failed
 * with the first group. Resolves when every job has a verdict.
 */
export async function deliver(
  deps: CommitDeps,
  jobs: Job[],
  onVerdict: (job: Job, verdict: Verdict) => void,
  dropped: string[] = [],
): Promise<void> {
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
  await Promise.all(
    jobs.map(async (job) => {
      try {
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
    }),
  );
  if (jobs.length === 0) flush();
  await Promise.all(records);
}

import { attempt } from "./attempt";
import { type CommitDeps, commitOutcomes, logFailure, recordOutcome, type Verdict } from "./group-commit";
import type { Job } from "./job";

/**
 * Sends every job at once; each outcome goes to the group commit as it comes back, so a slow
 * receiver holds nobody else's record back. `onVerdict` is called for each job once its outcome
 * is stored. `dropped` (claimed deliveries whose webhook or event is gone) are marked failed in
 * the same commits. Resolves when every job has a verdict.
 */
export async function deliver(
  deps: CommitDeps,
  jobs: Job[],
  onVerdict: (job: Job, verdict: Verdict) => void,
  dropped: string[] = [],
): Promise<void> {
  // The dropped ride with the first outcome's commit (no D1 round trip of their own).
  let drops = dropped;
  const takeDrops = () => {
    const taken = drops;
    drops = [];
    return taken;
  };
  await Promise.all(
    jobs.map(async (job) => {
      try {
        const outcome = await attempt(deps, job);
        await recordOutcome(deps, outcome, onVerdict, takeDrops());
      } catch (err) {
        // Signing failed (a secret that no longer opens): nothing was sent; try again later.
        logFailure(deps.log, "delivery attempt could not run", job, err);
        onVerdict(job, { action: "error" });
      }
    }),
  );
  const left = takeDrops();
  if (left.length > 0) {
    await commitOutcomes(deps, [], left).catch((err) =>
      logFailure(deps.log, "could not mark dropped deliveries failed", undefined, err),
    );
  }
}

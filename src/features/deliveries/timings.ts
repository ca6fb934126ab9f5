/**
 * Every timing the at-least-once promise rests on, in one place: who owns a delivery for how long,
 * when the sweeper takes it back, how long the group commit waits. `test/timings.test.ts` asserts
 * how they must relate (a lease outlasts the attempt and its commit, and so on), for the defaults
 * and for the extremes the configuration allows.
 *
 * The path, publish to receiver and back: `outbox.ts` writes the event and its deliveries →
 * `first-attempt.ts` sends them from the publishing invocation (`deliver.ts` → `attempt.ts` →
 * `request.ts`) → `group-commit.ts` records every outcome → a failure goes to the queue after its
 * `retry.ts` delay → `queued-attempt.ts` claims and sends it again → `sweeper.ts` (the cron)
 * re-queues whatever is due and owned by no one.
 */

/**
 * A run (a publish's first attempts, a consumer batch) hands its outcomes to the group commit in
 * groups: those that come back within this long of the first unrecorded one together. Kept beside
 * the commit's linger because it was measured to earn its place (docs/BENCHMARKS.md, "One batching
 * mechanism or two"): without it a saturated run spent ~15 % more CPU per delivery.
 */
export const RUN_WINDOW_MS = 25;

/** Group commit: under load, commits start at most this often and take every group that arrived meanwhile. */
export const COMMIT_LINGER_MS = 50;

/**
 * A commit that has not ended in this long is given up by those waiting for it (their deliveries
 * are retried: at least once). Longer than any D1 call may take (`D1_TIMEOUT_MS`, at most
 * {@link MAX_D1_TIMEOUT_MS}), so a commit is never given up while D1 may still write it.
 */
export const COMMIT_PATIENCE_MS = 30_000;

/** The shared outbox write: the same rule as the commit's. */
export const OUTBOX_PATIENCE_MS = 30_000;

/** The configuration may not set `D1_TIMEOUT_MS` above this. */
export { MAX_D1_TIMEOUT_MS } from "../../config";

/** The longest a run waits for a paced delivery's slot (`pace.ts`); a later slot defers it instead. */
export const PACE_WAIT_MS = 1_000;

/** The longest a run waits for the pacer to answer; then it defers the paced deliveries (`pace.ts`). */
export const PACER_TIMEOUT_MS = 2_000;

/** Time for the work around a send and its commit (signing, scheduling) that no timeout bounds. */
const SLACK_MS = 1_000;

/**
 * How long the publishing invocation owns the deliveries it sends first: asking the pacer, a paced one's wait, the receiver's timeout,
 * then the run's window, the commit's linger and one D1 call to record the outcome. No consumer claims them before;
 * the sweeper finds them overdue after (if the invocation stopped before recording anything).
 */
export const firstAttemptLeaseMs = (s: { timeoutMs: number; d1TimeoutMs: number }) =>
  PACER_TIMEOUT_MS + PACE_WAIT_MS + s.timeoutMs + RUN_WINDOW_MS + COMMIT_LINGER_MS + s.d1TimeoutMs + SLACK_MS;

/** A consumer's claim on a queued delivery lasts the receiver's timeout plus this margin. */
export const QUEUED_LEASE_MARGIN_MS = 60_000;
export const queuedLeaseMs = (s: { timeoutMs: number }) => s.timeoutMs + QUEUED_LEASE_MARGIN_MS;

/** A message that arrives a little early (its delay rounds down) still claims its delivery. */
export const EARLY_MS = 5_000;

/** A pending delivery this far past its time has no live message or owner: the sweeper re-queues it. */
export const OVERDUE_AFTER_MS = 30_000;

/** How often the sweeper runs (the cron in wrangler.toml: every minute). */
export const SWEEP_INTERVAL_MS = 60_000;

/** A consumer that threw (D1 down, a bug) tries the message again after this long. */
export const ERROR_RETRY_SECONDS = 30;

/** No retry waits longer than the queue's `delaySeconds` allows (the configuration refuses a longer one). */
export { MAX_RETRY_DELAY_SECONDS as MAX_DELAY_SECONDS } from "../../config";

/**
 * The longest a delivery can wait, after its invocation stopped mid-attempt, before the sweeper
 * sends it again: its lease, then overdue, then the next sweep.
 */
export const worstRecoveryMs = (s: { timeoutMs: number; d1TimeoutMs: number }) =>
  firstAttemptLeaseMs(s) + OVERDUE_AFTER_MS + SWEEP_INTERVAL_MS;

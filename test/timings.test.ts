import { describe, expect, it } from "vitest";
import { VARIABLES } from "../src/config";
import {
  COMMIT_LINGER_MS,
  COMMIT_PATIENCE_MS,
  EARLY_MS,
  firstAttemptLeaseMs,
  MAX_D1_TIMEOUT_MS,
  MAX_DELAY_SECONDS,
  OUTBOX_PATIENCE_MS,
  OVERDUE_AFTER_MS,
  QUEUED_LEASE_MARGIN_MS,
  queuedLeaseMs,
  RUN_WINDOW_MS,
  SWEEP_INTERVAL_MS,
  worstRecoveryMs,
} from "../src/features/deliveries/timings";

/** The settings at the corners the configuration allows, and the defaults. */
const corners = [100, 15_000, 60_000].flatMap((timeoutMs) =>
  [100, 10_000, MAX_D1_TIMEOUT_MS].map((d1TimeoutMs) => ({ timeoutMs, d1TimeoutMs })),
);

describe("the at-least-once timings (deliveries/timings.ts) hold together", () => {
  it("the configuration cannot leave the corners tested here", () => {
    expect(VARIABLES.D1_TIMEOUT_MS.schema.safeParse(String(MAX_D1_TIMEOUT_MS + 1)).success).toBe(false);
    expect(VARIABLES.WEBHOOK_TIMEOUT_MS.schema.safeParse("60001").success).toBe(false);
    expect(VARIABLES.WEBHOOK_RETRY_DELAYS.schema.safeParse(String(MAX_DELAY_SECONDS + 1)).success).toBe(false);
  });

  it.each(corners)("a first attempt's lease outlasts the send and the commit of its outcome (%o)", (s) => {
    // Nobody else claims the delivery while its outcome may still be written.
    expect(firstAttemptLeaseMs(s)).toBeGreaterThan(s.timeoutMs + RUN_WINDOW_MS + COMMIT_LINGER_MS + s.d1TimeoutMs);
  });

  it.each(corners)("a consumer's lease outlasts the send and the commit of its outcome (%o)", (s) => {
    expect(queuedLeaseMs(s)).toBeGreaterThan(s.timeoutMs + RUN_WINDOW_MS + COMMIT_LINGER_MS + s.d1TimeoutMs);
    expect(QUEUED_LEASE_MARGIN_MS).toBeGreaterThan(RUN_WINDOW_MS + COMMIT_LINGER_MS + MAX_D1_TIMEOUT_MS);
  });

  it("a commit is given up only once D1 itself would have given up", () => {
    // Otherwise a write could land after its waiters were told it failed (and retried it).
    expect(COMMIT_PATIENCE_MS).toBeGreaterThan(MAX_D1_TIMEOUT_MS + COMMIT_LINGER_MS);
    // A run's group waits at most its window before it is handed over.
    expect(RUN_WINDOW_MS).toBeLessThan(COMMIT_LINGER_MS);
    expect(OUTBOX_PATIENCE_MS).toBeGreaterThan(MAX_D1_TIMEOUT_MS);
  });

  it("the sweeper never takes a delivery whose message the consumer would still accept as early", () => {
    expect(OVERDUE_AFTER_MS).toBeGreaterThan(EARLY_MS);
  });

  it.each(corners)(
    "a delivery whose first attempt died is sent again within its lease, overdue and one sweep (%o)",
    (s) => {
      expect(worstRecoveryMs(s)).toBe(firstAttemptLeaseMs(s) + OVERDUE_AFTER_MS + SWEEP_INTERVAL_MS);
      expect(worstRecoveryMs(s)).toBeLessThan(5 * 60_000);
    },
  );
});

import type { Log } from "../../lib/log";
import { isoOrNull } from "../../lib/schemas";
import { type CreditColumns, crossings, lowThreshold, nextRefillAt } from "../keys/credits";
import type { FoundCheck } from "./key-check";

/** How a crossing is published: the events service's `publish`, for the key's account. */
export type PublishCrossing = (
  scope: { accountId: string; webhooksVersion: number | null },
  input: { type: string; entity: Record<string, unknown> },
) => Promise<unknown>;

/**
 * `api_key.credits_low` / `api_key.credits_exhausted`, after the answer (`waitUntil`), when a
 * spend crossed one of the thresholds. A failure is logged, never fails the request.
 */
export function announceCrossings(
  deps: { publish: PublishCrossing; waitUntil: (p: Promise<unknown>) => void; log: Log },
  check: FoundCheck,
  after: CreditColumns,
  cost: number,
  now: number,
) {
  for (const crossing of crossings(after, after.creditsRemaining ?? 0, cost)) {
    const { id, name, accountId } = check.key;
    const entity =
      crossing === "low"
        ? { id, name, remaining: after.creditsRemaining, threshold: lowThreshold(after) }
        : { id, name, nextRefillAt: isoOrNull(nextRefillAt(after, now)) };
    deps.waitUntil(
      deps
        .publish({ accountId, webhooksVersion: check.webhooksVersion }, { type: `api_key.credits_${crossing}`, entity })
        .catch((err) => deps.log("error", "could not publish a credits event", { error: String(err) })),
    );
  }
}

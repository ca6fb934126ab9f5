import type { Db } from "../../db/client";
import { boundaryParams, type CreditColumns, effectiveRemaining, nextRefillAt } from "../keys/credits";
import { refundCredits, spendCredits } from "./auth.repo";
import type { FoundCheck } from "./key-check";

/** A key's credits as an answer shows them: what is left, and when (unix ms) the next refill comes. */
export interface Credits {
  remaining: number;
  nextRefillAt: number | null;
}

export type Spend =
  /** Nothing to spend (no credits), or spent: what is left, and the columns as the spend left them. */
  | { ok: true; credits: Credits | null; after: CreditColumns | null }
  /** Not enough left: what there is. */
  | { ok: false; credits: Credits };

/**
 * Spends `cost` of a key's credits once every other check passed (unless the lookup already did,
 * in the same statement): one conditional UPDATE on the primary, so two requests racing for the
 * last credit cannot both have it. `cost` 0 checks that something is left.
 */
export async function spend(db: Db, check: FoundCheck, cost: number, now: number): Promise<Spend> {
  const key = check.key;
  if (key.creditsRemaining === null && !check.spent) return { ok: true, credits: null, after: null };
  let after: CreditColumns | null = check.spent;
  if (!after) {
    const left = effectiveRemaining(key, now) ?? 0;
    const exhausted = { ok: false as const, credits: { remaining: left, nextRefillAt: nextRefillAt(key, now) } };
    if (cost === 0) return left > 0 ? { ok: true, credits: exhausted.credits, after: null } : exhausted;
    if (left < cost) return exhausted;
    after = (await spendCredits(db, key.id, cost, now, boundaryParams(now))) ?? null;
    if (!after) return exhausted; // spent by a concurrent request in between
  }
  return {
    ok: true,
    credits: { remaining: after.creditsRemaining ?? 0, nextRefillAt: nextRefillAt(after, now) },
    after,
  };
}

/** A refusal after the lookup already spent: the credits go back. */
export async function refund(db: Db, check: FoundCheck, cost: number) {
  await refundCredits(db, check.key.id, cost);
  check.key.creditsRemaining = (check.key.creditsRemaining ?? 0) + cost;
}

/**
 * Usage credits: a key may carry an allowance that every admitted request spends. Refills are
 * lazy: nothing runs on a clock. The statement that spends compares the last refill boundary
 * (midnight UTC, or the month's refill day at midnight UTC) with the time of the key's last refill
 * and, when a boundary has passed, starts again from the refill amount. The boundaries are
 * computed here, in one place, and handed to that statement as parameters.
 */

const DAY_MS = 86_400_000;

/** The most one verification may spend, and the most credits a key may hold. */
export const MAX_COST = 1_000_000;
export const MAX_CREDITS = 1_000_000_000_000;

export type RefillInterval = "daily" | "monthly";

/** What the credit columns of a key hold. `remaining` null = no credits (unlimited). */
export interface CreditColumns {
  creditsRemaining: number | null;
  creditsRefillInterval: string | null;
  creditsRefillAmount: number | null;
  creditsRefillDay: number | null;
  creditsRefilledAt: number | null;
  creditsLowThreshold: number | null;
}

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month + 1, 0)).getUTCDate();

/** Midnight UTC of `day` (1–31) in a month, or of the month's last day when it is shorter. */
const monthDay = (year: number, month: number, day: number) =>
  Date.UTC(year, month, Math.min(day, daysIn(year, month)));

/** The last refill boundary at or before `now`. */
export function lastBoundary(interval: RefillInterval, day: number, now: number): number {
  if (interval === "daily") return Math.floor(now / DAY_MS) * DAY_MS;
  const d = new Date(now);
  const here = monthDay(d.getUTCFullYear(), d.getUTCMonth(), day);
  return here <= now ? here : monthDay(d.getUTCFullYear(), d.getUTCMonth() - 1, day);
}

/** The first refill boundary after `now`. */
export function nextBoundary(interval: RefillInterval, day: number, now: number): number {
  if (interval === "daily") return (Math.floor(now / DAY_MS) + 1) * DAY_MS;
  const d = new Date(now);
  const here = monthDay(d.getUTCFullYear(), d.getUTCMonth(), day);
  return here > now ? here : monthDay(d.getUTCFullYear(), d.getUTCMonth() + 1, day);
}

/**
 * The spending statement's parameters: the last daily boundary, and the last monthly boundary for
 * each refill day 1–31 (as JSON, read with `json_extract`), so SQL never does calendar arithmetic.
 */
export function boundaryParams(now: number): { day: number; months: string } {
  const months = Array.from({ length: 31 }, (_, i) => lastBoundary("monthly", i + 1, now));
  return { day: lastBoundary("daily", 1, now), months: JSON.stringify(months) };
}

const refillOf = (c: CreditColumns) =>
  c.creditsRefillInterval && c.creditsRefillAmount !== null
    ? {
        interval: c.creditsRefillInterval as RefillInterval,
        amount: c.creditsRefillAmount,
        day: c.creditsRefillDay ?? 1,
      }
    : null;

/** What the key has to spend now, a due refill applied (the statement that spends does the same). */
export function effectiveRemaining(c: CreditColumns, now: number): number | null {
  if (c.creditsRemaining === null) return null;
  const refill = refillOf(c);
  if (refill && lastBoundary(refill.interval, refill.day, now) > (c.creditsRefilledAt ?? 0)) return refill.amount;
  return c.creditsRemaining;
}

/** When the next refill comes, or null without one. */
export function nextRefillAt(c: CreditColumns, now: number): number | null {
  const refill = refillOf(c);
  return refill ? nextBoundary(refill.interval, refill.day, now) : null;
}

/** The low-credit threshold: stored when credits are set (the key's own, or 10 % of the allowance). */
export function lowThreshold(c: CreditColumns): number {
  if (c.creditsLowThreshold !== null) return c.creditsLowThreshold;
  return Math.floor((c.creditsRefillAmount ?? c.creditsRemaining ?? 0) / 10);
}

/** The crossings one spend of `cost` that left `after` makes: each happens to exactly one spend. */
export function crossings(c: CreditColumns, after: number, cost: number): ("low" | "exhausted")[] {
  if (cost <= 0) return [];
  const before = after + cost;
  const low = lowThreshold(c);
  const out: ("low" | "exhausted")[] = [];
  if (before > low && after <= low && after > 0) out.push("low");
  if (after === 0) out.push("exhausted");
  return out;
}

/** What the API shows of a key's credits. */
export function creditsView(c: CreditColumns, now: number) {
  if (c.creditsRemaining === null) return null;
  const refill = refillOf(c);
  const next = nextRefillAt(c, now);
  return {
    remaining: effectiveRemaining(c, now) ?? 0,
    refill: refill
      ? {
          interval: refill.interval,
          amount: refill.amount,
          ...(refill.interval === "monthly" ? { dayOfMonth: refill.day } : {}),
        }
      : null,
    lowThreshold: lowThreshold(c),
    nextRefillAt: next === null ? null : new Date(next).toISOString(),
  };
}

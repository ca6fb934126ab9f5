import { MAX_DELAY_SECONDS } from "./timings";

/**
 * Seconds to wait before the next try, after `attemptsMade` tries; null when the schedule is
 * spent. ±10 % jitter spreads retries out; a receiver's `Retry-After` (on 429/503) is honoured
 * when it asks for longer than the schedule, never beyond 12 h.
 */
export function nextRetryDelay(
  attemptsMade: number,
  delays: readonly number[],
  retryAfterSeconds: number | null = null,
  random: () => number = Math.random,
): number | null {
  const base = delays[attemptsMade - 1];
  if (attemptsMade < 1 || base === undefined) return null;
  const jittered = Math.round(base * (0.9 + 0.2 * random()));
  const wanted = retryAfterSeconds !== null ? Math.max(jittered, retryAfterSeconds) : jittered;
  return Math.min(wanted, MAX_DELAY_SECONDS);
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

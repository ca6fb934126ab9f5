import { ApiError } from "../../lib/errors";
import type { Log } from "../../lib/log";
import { type Hit, ShardedCounter } from "./sharded-counter";

const HOUR = 3600;
/** Hourly counts stay readable this long after their hour, for the usage chart. */
export const USAGE_HISTORY_HOURS = 48;
/** Failed authentications are counted per client IP over this window. */
export const AUTH_FAILURE_WINDOW_SECONDS = 600;

export const keyRequests = (kv: KVNamespace, log?: Log) =>
  new ShardedCounter(kv, "rl", HOUR, USAGE_HISTORY_HOURS * HOUR, log);
export const authFailures = (kv: KVNamespace, log?: Log) =>
  new ShardedCounter(kv, "af", AUTH_FAILURE_WINDOW_SECONDS, 0, log);
/** RFC 7591 registrations per client address per hour: registration is open, so it is bounded. */
export const registrations = (kv: KVNamespace, log?: Log) => new ShardedCounter(kv, "rg", HOUR, 0, log);
export const REGISTRATIONS_PER_HOUR = 20;
/** "Send test event" per webhook per hour (deliveries/deliveries.service.ts). */
export const testSends = (kv: KVNamespace, log?: Log) => new ShardedCounter(kv, "ts", HOUR, 0, log);

/**
 * The IETF fields (draft-ietf-httpapi-ratelimit-headers) and the widely used X-RateLimit-* ones.
 * @see https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/
 */
export function rateLimitHeaders(hit: Hit, now: number): Record<string, string> {
  const reset = Math.max(0, Math.ceil((hit.resetAt - now) / 1000));
  return {
    "RateLimit-Policy": `"hour";q=${hit.limit};w=${HOUR}`,
    RateLimit: `"hour";r=${hit.remaining};t=${reset}`,
    "X-RateLimit-Limit": String(hit.limit),
    "X-RateLimit-Remaining": String(hit.remaining),
    "X-RateLimit-Reset": String(Math.ceil(hit.resetAt / 1000)),
  };
}

/** 429 with `Retry-After` at the end of the window (RFC 9110 §10.2.3), plus a little jitter. */
export function rateLimited(message: string, resetAt: number, now: number, headers: Record<string, string> = {}) {
  const retryAfter = Math.max(1, Math.ceil((resetAt - now) / 1000)) + Math.floor(Math.random() * 5);
  return new ApiError(
    "rate_limited",
    message,
    { retryAfterSeconds: retryAfter },
    {
      ...headers,
      "Retry-After": String(retryAfter),
    },
  );
}

/** Client address for the failed-auth limiter (`:` would clash with the counter's key layout). */
export function clientKey(req: Request): string {
  return (req.headers.get("cf-connecting-ip") ?? "local").replace(/[^0-9A-Za-z.]/g, "-");
}

import type { Services } from "../compose";

/**
 * The cron (every minute): re-queues deliveries that are due but not in flight — a queue send that
 * failed, a Worker that stopped mid-delivery — prunes history and old idempotency keys, deletes
 * event content past the retention, goes on purging deleted accounts, prunes expired OAuth tokens
 * and unused registrations, and announces keys about to expire. At-least-once rests on the first of these.
 */
export async function sweep(services: Services) {
  const requeued = await services.deliveries.requeueOverdue();
  await services.deliveries.pruneHistory();
  await services.events.clearIdempotencyKeys();
  const expired = await services.events.expireContent();
  const purgedAccounts = await services.accounts.purgeDeleted();
  await services.analytics.prune();
  await services.oauth.prune();
  const announced = await services.keys.announceExpiring();
  return { requeued, announced, expired, purgedAccounts };
}

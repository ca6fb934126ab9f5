import type { Services } from "../compose";
import { CRON_SEEN, markSeen } from "../features/deployment/doctor";
import { createIdempotency } from "../features/svix/idempotency";
import { describe } from "../lib/log";

/**
 * The cron (every minute): the sweeper re-queues deliveries that are due but owned by no one (a
 * queue send that failed, a Worker that stopped mid-delivery) — at-least-once rests on it — then
 * the housekeeping: final history past the hot window moved to R2, the archive past the retention
 * deleted, idempotency keys cleared, content still in D1 past the retention deleted,
 * deleted accounts purged, analytics, OAuth tokens and portal sessions pruned, keys about to expire announced.
 *
 * Each step runs on its own: one that fails is logged and the others still run (a D1 hiccup in the
 * retention must not stop the sweeper). The run throws at the end if any step failed, so the
 * platform records the failure too.
 */
export async function sweep(services: Services) {
  const steps = {
    requeued: () => services.deliveries.requeueOverdue(),
    archived: () => services.history.archive(),
    expiredHistory: () => services.history.expire(),
    clearedIdempotencyKeys: () => services.events.clearIdempotencyKeys(),
    expired: () => services.events.expireContent(),
    purgedAccounts: () => services.accounts.purgeDeleted(),
    prunedAnalytics: () => services.analytics.prune(),
    prunedOAuth: () => services.oauth.prune(),
    prunedPortalSessions: () => services.portal.prune(),
    prunedSvixIdempotency: () => createIdempotency(services.platform.db, services.platform.now).prune(),
    announced: () => services.keys.announceExpiring(),
  } satisfies Record<string, () => Promise<unknown>>;
  const results: Partial<{ [K in keyof typeof steps]: Awaited<ReturnType<(typeof steps)[K]>> }> = {};
  const failed: string[] = [];
  for (const [name, step] of Object.entries(steps) as [keyof typeof steps, () => Promise<never>][]) {
    try {
      results[name] = await step();
    } catch (err) {
      failed.push(name);
      services.platform.log("error", "cron step failed; the others ran", { step: name, error: describe(err) });
    }
  }
  // That it ran, for `keyhook doctor` (one row a minute).
  await markSeen(services.platform.db, CRON_SEEN, services.platform.now()).catch((err) =>
    services.platform.log("warn", "could not note the cron's run", { error: describe(err) }),
  );
  if (failed.length > 0) throw new Error(`cron steps failed: ${failed.join(", ")}`);
  return results;
}

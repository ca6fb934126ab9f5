import { createDb } from "../db/client";
import { clearIdempotencyKeys, makeDue, overdue, pruneAttempts } from "../features/deliveries/deliveries.repo";
import { enqueue, IDEMPOTENCY_MS, publishEvent } from "../features/events/events.service";
import { keysExpiringSoon, markExpiringNotified } from "../features/keys/keys.repo";
import { isoOrNull } from "../lib/schemas";

/** A pending delivery this far past its time has no live message or consumer: re-queue it. */
export const OVERDUE_AFTER_MS = 30_000;
export const ATTEMPTS_KEPT_PER_WEBHOOK = 50;
/** `api_key.expiring` goes out this long before a key expires. */
export const EXPIRING_NOTICE_MS = 7 * 24 * 3600 * 1000;

/**
 * The cron (every minute): re-queues deliveries that are due but not in flight — a queue send that
 * failed, a Worker that stopped mid-delivery — and prunes history. At-least-once rests on this.
 */
export async function sweep(env: Env, now: number) {
  const db = createDb(env.DB);
  const due = await overdue(db, now - OVERDUE_AFTER_MS, 1000);
  const ids = await makeDue(db, due.map((d) => d.id), now);
  await enqueue(env.DELIVERIES, ids);
  await pruneAttempts(db, ATTEMPTS_KEPT_PER_WEBHOOK);
  await clearIdempotencyKeys(db, now - IDEMPOTENCY_MS);
  let announced = 0;
  for (const key of await keysExpiringSoon(db, now, EXPIRING_NOTICE_MS, 100)) {
    if (!(await markExpiringNotified(db, key.id, now))) continue;
    const entity = { id: key.id, name: key.name, prefix: key.prefix, expiresAt: isoOrNull(key.expiresAt) };
    await publishEvent({ db, queue: env.DELIVERIES, accountId: key.accountId, now }, { type: "api_key.expiring", entity });
    announced++;
  }
  return { requeued: ids.length, announced };
}

import type { Db } from "../../db/client";
import type { Log } from "../../lib/log";
import { overdue, requeue } from "./deliveries.repo";
import { enqueue } from "./enqueue";
import { OVERDUE_AFTER_MS } from "./timings";

/**
 * The sweeper (the cron, every minute): re-queues deliveries that are due but owned by no one — a
 * queue send that failed, a Worker that stopped mid-delivery or during a first attempt (its lease
 * ended). At-least-once rests on this: whatever else fails, a pending delivery is sent again.
 */
export async function requeueOverdue(deps: { db: Db; queue: Queue; log: Log; now: () => number }, limit = 1000) {
  const at = deps.now();
  const ids = await overdue(deps.db, at - OVERDUE_AFTER_MS, at, limit);
  await requeue(deps.db, ids, at);
  await enqueue(deps.queue, deps.log, ids);
  return ids.length;
}

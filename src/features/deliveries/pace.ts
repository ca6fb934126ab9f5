import type { Db } from "../../db/client";
import { describe, type Log } from "../../lib/log";
import type { Job } from "./job";
import { changeDeliveries } from "./pipeline.repo";
import { PACE_WAIT_MS, PACER_TIMEOUT_MS } from "./timings";

/**
 * Pacing, before a run's attempts: a job of a throttled webhook takes a send slot from the
 * webhook's pacer (`pacer.ts`), and a job that holds one already (a replay's, or one deferred
 * before) keeps it. A slot within {@link PACE_WAIT_MS} is waited for in this run; a later one
 * defers the job — its delivery stays pending, due at the slot, and its message comes back then —
 * so a throttled endpoint's backlog never holds back another endpoint's deliveries.
 */

/** If the pacer cannot be reached, the job comes back this much later (nothing is lost). */
export const PACER_DOWN_DEFER_MS = 30_000;

export interface PaceDeps {
  db: Db;
  log: Log;
  now: () => number;
  pacer: DurableObjectNamespace<import("./pacer").EndpointPacer> | null;
  /** How long to wait for the pacer's answer (default {@link PACER_TIMEOUT_MS}). */
  pacerTimeoutMs?: number;
}

export interface Paced {
  /** Sent in this run, each after its wait (ms); `slot`: paced (sent after the webhook's earlier slots). */
  send: { job: Job; waitMs: number; slot?: number }[];
  /** Deferred: due at `at`; `slot` is the slot it holds (null: none, ask again then). */
  defer: { job: Job; at: number; slot: number | null }[];
}

/**
 * Slots for `count` sends to one webhook, `1000 / perSecond` ms apart, in the order asked. A pacer
 * that does not answer within the timeout counts as down (the slots it may still hand out are a
 * gap in the webhook's pace, never a second send).
 */
export async function takeSlots(
  deps: Pick<PaceDeps, "pacer" | "pacerTimeoutMs">,
  webhookId: string,
  now: number,
  perSecond: number,
  count: number,
): Promise<number[]> {
  if (!deps.pacer) throw new Error("no PACER binding");
  const stub = deps.pacer.get(deps.pacer.idFromName(webhookId));
  const ms = deps.pacerTimeoutMs ?? PACER_TIMEOUT_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the pacer did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([stub.take(now, 1000 / perSecond, count), late]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

export async function pace(deps: PaceDeps, jobs: Job[]): Promise<Paced> {
  const now = deps.now();
  const out: Paced = { send: [], defer: [] };
  const asking = new Map<string, Job[]>();
  const place = (job: Job, slot: number) => {
    if (slot - now <= PACE_WAIT_MS) out.send.push({ job, waitMs: Math.max(0, slot - now), slot });
    else out.defer.push({ job, at: slot, slot });
  };
  for (const job of jobs) {
    const held = job.delivery.slotAt ?? null;
    // A slot already held is kept: a late one (its message came after it) is sent at once.
    if (held !== null) place(job, held);
    else if (job.webhook.throttle === null || job.webhook.throttle === undefined) out.send.push({ job, waitMs: 0 });
    else asking.set(job.webhook.id, [...(asking.get(job.webhook.id) ?? []), job]);
  }
  await Promise.all(
    [...asking].map(async ([webhookId, list]) => {
      // In publication order: the pacer's slots are handed out in the order asked.
      list.sort((a, b) => (a.event.id < b.event.id ? -1 : a.event.id > b.event.id ? 1 : 0));
      const perSecond = list[0]?.webhook.throttle ?? 1;
      try {
        const slots = await takeSlots(deps, webhookId, now, perSecond, list.length);
        for (const [i, job] of list.entries()) place(job, slots[i] ?? now);
      } catch (err) {
        deps.log("warn", "pacer unavailable; deliveries deferred", { webhookId, error: describe(err) });
        for (const job of list) out.defer.push({ job, at: now + PACER_DOWN_DEFER_MS, slot: null });
      }
    }),
  );
  return out;
}

/**
 * Deferred deliveries: due at their slot (the sweeper's clock starts there), holding it. One
 * statement per event; a delivery no longer pending (cancelled meanwhile) is left alone.
 */
export function deferDeliveries(db: Db, deferred: Paced["defer"], now: number) {
  return changeDeliveries(
    db,
    deferred.map((d) => ({ deliveryId: d.job.delivery.id, patch: { x: d.at, o: d.slot, u: now } })),
  );
}

/** The queue delay that brings a deferred delivery's message back by its slot (whole seconds, rounded down). */
export const delayUntil = (at: number, now: number) => Math.max(0, Math.floor((at - now) / 1000));

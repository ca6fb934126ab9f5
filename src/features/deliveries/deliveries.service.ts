import type { Platform } from "../../compose";
import type { Caller } from "../../lib/caller";
import { ApiError } from "../../lib/errors";
import { describe } from "../../lib/log";
import { found, iso } from "../../lib/schemas";
import type { EventsService } from "../events/events.service";
import { rateLimited } from "../ratelimit/limits";
import type { WebhooksService } from "../webhooks/webhooks.service";
import type { Job } from "./attempt";
import * as repo from "./deliveries.repo";
import { claimAndLoad, markFailed } from "./pipeline.repo";
import { type RunnerDeps, runJobs, type Verdict, verdictsToQueue } from "./runner";
import { deliveryBody } from "./send";

/** Test sends per webhook per hour: "Send test event" must not become a traffic cannon. */
export const TEST_SENDS_PER_HOUR = 20;
const ATTEMPTS_SHOWN = 50;
/** A pending delivery this far past its time has no live message or consumer: the cron re-queues it. */
export const OVERDUE_AFTER_MS = 30_000;
export const ATTEMPTS_KEPT_PER_WEBHOOK = 50;
/** A delivery the consumer claims is its own for the receiver's timeout plus this long. */
const LEASE_MARGIN_MS = 60_000;
/** A message that arrives a little early (its delay rounds down) still claims its delivery. */
const EARLY_MS = 5_000;

type ListedAttempt = Awaited<ReturnType<typeof repo.listAttempts>>[number];

const toAttempt = ({ attempt: a, event }: ListedAttempt) => ({
  id: a.id,
  deliveryId: a.deliveryId,
  eventId: a.eventId,
  eventType: a.eventType,
  attempt: a.attempt,
  url: a.url,
  requestHeaders: a.requestHeaders,
  // null once the event's content was deleted (by hand or past the retention).
  requestBody:
    a.requestBody ??
    (event && event.contentDeletedAt === null
      ? deliveryBody({ ...event, entity: JSON.stringify(event.entity) })
      : null),
  responseStatus: a.responseStatus,
  responseHeaders: a.responseHeaders,
  responseBody: a.responseBody,
  durationMs: a.durationMs,
  failureReason: a.failureReason,
  succeeded: a.succeeded,
  createdAt: iso(a.createdAt),
});

export interface DeliveriesDeps {
  webhooks: () => WebhooksService;
  events: () => EventsService;
}

/** Sending webhooks: first attempts, the queue's batches, retries by hand, history, test events. */
export function createDeliveriesService(platform: Platform, deps: DeliveriesDeps) {
  const { db, now, queue } = platform;
  const runner: RunnerDeps = {
    db,
    settings: platform.settings.webhooks,
    secretKey: platform.secrets.webhookKey,
    fetch: platform.fetch,
    now,
    log: platform.log,
    disable: (disablings) => deps.webhooks().disable(disablings),
  };

  /** Sends delivery ids to the queue; a failed send is harmless: the cron re-queues due deliveries. */
  async function enqueue(ids: string[]) {
    try {
      for (let i = 0; i < ids.length; i += 100) {
        await queue.sendBatch(ids.slice(i, i + 100).map((deliveryId) => ({ body: { deliveryId } })));
      }
    } catch (err) {
      platform.log("warn", "queue send failed; the cron will re-queue", {
        deliveries: ids.length,
        error: describe(err),
      });
    }
  }

  return {
    enqueue,

    /**
     * The first attempts of a publish, from its invocation, recorded as they come back. A failed one
     * goes to the queue after its retry delay; one whose outcome could not be recorded, after its
     * lease (the queue then sends it again). A delivery that succeeds costs no queue message at all.
     * If the invocation stops before it records an outcome, the delivery stays pending with its
     * lease: the cron re-queues it when the lease is over (with the same `webhook-id`).
     */
    async sendFirstAttempts(jobs: Job[], leaseSeconds: number) {
      const later = verdictsToQueue(queue, leaseSeconds, platform.log);
      await runJobs(runner, jobs, (job, verdict) => later.add(job, verdict));
      await later.send();
    },

    /**
     * A queue batch's deliveries, as a batch: every due one claimed and loaded in one D1 round trip,
     * all sent at once, outcomes recorded in groups as they come back. `answer` gets each delivery's
     * verdict: ack for one that is finished, not due, leased elsewhere or whose webhook or event is
     * gone. Throws if the claim fails (nothing was sent).
     */
    async sendQueued(ids: string[], answer: (deliveryId: string, verdict: Verdict) => void) {
      const at = now();
      const claimed = await claimAndLoad(db, ids, at, at + runner.settings.timeoutMs + LEASE_MARGIN_MS, at + EARLY_MS);
      const jobs: Job[] = [];
      const dropped: string[] = [];
      for (const { delivery, event, webhook } of claimed) {
        if (event && webhook && webhook.status === "active") jobs.push({ delivery, event, webhook });
        else {
          dropped.push(delivery.id);
          const reason = !webhook ? "webhook was deleted" : !event ? "event was deleted" : "webhook is disabled";
          platform.log("info", "delivery dropped", { deliveryId: delivery.id, reason });
        }
      }
      const sending = new Set(jobs.map((j) => j.delivery.id));
      for (const id of ids) if (!sending.has(id)) answer(id, { action: "ack" });
      if (jobs.length === 0) {
        await markFailed(db, dropped, at).catch((err) => {
          platform.log("error", "could not mark dropped deliveries failed", { error: describe(err) });
        });
        return;
      }
      await runJobs(runner, jobs, (job, verdict) => answer(job.delivery.id, verdict), dropped);
    },

    /** Messages that exhausted the queue's own retries: their deliveries are failed (retryable by hand). */
    markFailed: (ids: string[]) => markFailed(db, ids, now()),

    async attempts(caller: Caller, webhookId: string) {
      await deps.webhooks().get(caller, webhookId);
      return (await repo.listAttempts(db, caller.accountId, webhookId, ATTEMPTS_SHOWN)).map(toAttempt);
    },

    /** Sends one delivery again now, with the same `webhook-id`, whatever its state. */
    async retry(caller: Caller, id: string) {
      const { delivery, contentDeletedAt } = found(await repo.getDelivery(db, caller.accountId, id), "Delivery");
      await deps.webhooks().active(caller, delivery.webhookId);
      if (contentDeletedAt !== null) {
        throw new ApiError("conflict", "The event's content was deleted: this delivery cannot be sent again");
      }
      await repo.makeDue(db, [id], now());
      await enqueue([id]);
      return { id: delivery.id, webhookId: delivery.webhookId, status: "pending" as const };
    },

    /** Re-sends every failed delivery of the webhook created since `since`. */
    async recover(caller: Caller, webhookId: string, since: string) {
      await deps.webhooks().active(caller, webhookId);
      const failed = await repo.failedSince(db, caller.accountId, webhookId, Date.parse(since));
      const ids = await repo.makeDue(
        db,
        failed.map((d) => d.id),
        now(),
      );
      await enqueue(ids);
      return ids.length;
    },

    /** A synthetic event (the catalog's example entity) through the same path, to this webhook only. */
    async test(caller: Caller, webhookId: string, type = "webhook.test") {
      await deps.webhooks().active(caller, webhookId);
      const at = now();
      if ((await repo.testSendsSince(db, webhookId, at - 3_600_000)) >= TEST_SENDS_PER_HOUR) {
        throw rateLimited(`At most ${TEST_SENDS_PER_HOUR} test events per webhook per hour`, at + 3_600_000, at);
      }
      const known = (await deps.events().listTypes(caller.accountId)).find((t) => t.name === type);
      const example = known?.example;
      const entity =
        example && typeof example === "object" && !Array.isArray(example)
          ? (example as Record<string, unknown>)
          : { message: "This is a test event from Keyhook" };
      const { deliveries } = await deps
        .events()
        .publish(
          { accountId: caller.accountId, webhooksVersion: caller.webhooksVersion },
          { type, entity: { ...entity, test: true } },
          { onlyWebhookId: webhookId, isTest: true },
        );
      return deliveries[0]!;
    },

    /**
     * The cron: re-queues deliveries that are due but not in flight — a queue send that failed, a
     * Worker that stopped mid-delivery or during a first attempt. At-least-once rests on this.
     */
    async requeueOverdue(limit = 1000) {
      const at = now();
      const due = await repo.overdue(db, at - OVERDUE_AFTER_MS, limit);
      const ids = await repo.makeDue(
        db,
        due.map((d) => d.id),
        at,
      );
      await enqueue(ids);
      return ids.length;
    },

    /** The cron: keeps the last 50 attempts per webhook. */
    pruneHistory: () => repo.pruneAttempts(db, ATTEMPTS_KEPT_PER_WEBHOOK),
  };
}

export type DeliveriesService = ReturnType<typeof createDeliveriesService>;

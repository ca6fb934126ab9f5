import type { Caller } from "../../lib/caller";
import { ApiError } from "../../lib/errors";
import { found, iso } from "../../lib/schemas";
import type { Platform } from "../../platform";
import type { EventsService } from "../events/events.service";
import { rateLimited } from "../ratelimit/limits";
import type { WebhooksService } from "../webhooks/webhooks.service";
import * as repo from "./deliveries.repo";
import { enqueue } from "./enqueue";
import type { CommitDeps, Verdict } from "./group-commit";
import { markFailed } from "./pipeline.repo";
import { sendQueued } from "./queued-attempt";
import { deliveryBody } from "./request";
import { requeueOverdue } from "./sweeper";

/** Test sends per webhook per hour: "Send test event" must not become a traffic cannon. */
const TEST_SENDS_PER_HOUR = 20;
const ATTEMPTS_SHOWN = 50;
const ATTEMPTS_KEPT_PER_WEBHOOK = 50;

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

/** Sending webhooks by hand and from the queue, and their history: retries, recovery, test events. */
export function createDeliveriesService(platform: Platform, deps: DeliveriesDeps) {
  const { db, now, queue, log } = platform;
  const commit: CommitDeps = {
    db,
    settings: platform.settings.webhooks,
    secretKey: platform.secrets.webhookKey,
    fetch: platform.fetch,
    now,
    random: platform.random,
    log,
    disable: (disablings) => deps.webhooks().disable(disablings),
  };

  return {
    /** A queue batch's deliveries (`queued-attempt.ts`); `answer` gets each one's verdict. */
    sendQueued: (ids: string[], answer: (deliveryId: string, verdict: Verdict) => void) =>
      sendQueued(commit, ids, answer),

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
      await enqueue(queue, log, [id]);
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
      await enqueue(queue, log, ids);
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
      const [delivery] = deliveries;
      if (!delivery) throw new ApiError("conflict", "The webhook is not active");
      return delivery;
    },

    /** The sweeper (`sweeper.ts`): deliveries due and owned by no one go to the queue again. */
    requeueOverdue: (limit?: number) => requeueOverdue({ db, queue, log, now }, limit),

    /** The cron: keeps the last 50 attempts per webhook. */
    pruneHistory: () => repo.pruneAttempts(db, ATTEMPTS_KEPT_PER_WEBHOOK),
  };
}

export type DeliveriesService = ReturnType<typeof createDeliveriesService>;

import type { Caller } from "../../lib/caller";
import { ApiError } from "../../lib/errors";
import { found } from "../../lib/schemas";
import type { Platform } from "../../platform";
import type { EventsService } from "../events/events.service";
import type { AttemptQuery, HistoryService } from "../history/history.service";
import { rateLimited } from "../ratelimit/limits";
import type { WebhooksService } from "../webhooks/webhooks.service";
import * as repo from "./deliveries.repo";
import { enqueue } from "./enqueue";
import type { CommitDeps, Verdict } from "./group-commit";
import { markFailed } from "./pipeline.repo";
import { sendQueued } from "./queued-attempt";
import { requeueOverdue } from "./sweeper";

/** Test sends per webhook per hour: "Send test event" must not become a traffic cannon. */
const TEST_SENDS_PER_HOUR = 20;

export interface DeliveriesDeps {
  webhooks: () => WebhooksService;
  events: () => EventsService;
  history: () => HistoryService;
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

  /** A delivery found in the archive is written back to D1, then read as any other. */
  async function recalled(caller: Caller, id: string) {
    if ((await deps.history().recall(caller.accountId, id)) === null) return undefined;
    return repo.getDelivery(db, caller.accountId, id);
  }

  return {
    /** A queue batch's deliveries (`queued-attempt.ts`); `answer` gets each one's verdict. */
    sendQueued: (ids: string[], answer: (deliveryId: string, verdict: Verdict) => void) =>
      sendQueued(commit, ids, answer),

    /** Messages that exhausted the queue's own retries: their deliveries are failed (retryable by hand). */
    markFailed: (ids: string[]) => markFailed(db, ids, now()),

    /** A webhook's attempts, newest first, paged and filtered, from D1 and the archive alike. */
    async attempts(caller: Caller, webhookId: string, query: AttemptQuery) {
      await deps.webhooks().get(caller, webhookId);
      return deps.history().attempts(caller.accountId, webhookId, query);
    },

    /** Sends one delivery again now, with the same `webhook-id`, whatever its state. */
    async retry(caller: Caller, id: string) {
      // An archived delivery comes back to D1 first (its event, deliveries and attempts).
      const hot = (await repo.getDelivery(db, caller.accountId, id)) ?? (await recalled(caller, id));
      const { delivery, contentDeletedAt } = found(hot, "Delivery");
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
  };
}

export type DeliveriesService = ReturnType<typeof createDeliveriesService>;

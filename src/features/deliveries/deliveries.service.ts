import type { Caller } from "../../lib/caller";
import { idFloor, timeOfId } from "../../lib/encoding";
import { ApiError, validationError } from "../../lib/errors";
import { describe } from "../../lib/log";
import { found, iso } from "../../lib/schemas";
import type { Platform } from "../../platform";
import type { EventsService } from "../events/events.service";
import { withEntityObjects } from "../history/entity-object";
import type { AttemptQuery, HistoryService } from "../history/history.service";
import { rateLimited, testSends } from "../ratelimit/limits";
import { matchesFilter } from "../webhooks/filter";
import type { WebhooksService } from "../webhooks/webhooks.service";
import * as repo from "./deliveries.repo";
import { enqueue, enqueueDelayed } from "./enqueue";
import type { CommitDeps, Verdict } from "./group-commit";
import { delayUntil, PACER_DOWN_DEFER_MS, takeSlots } from "./pace";
import { markFailed } from "./pipeline.repo";
import { sendQueued } from "./queued-attempt";
import { requeueOverdue } from "./sweeper";

/** Test sends per webhook per hour: "Send test event" must not become a traffic cannon. */
const TEST_SENDS_PER_HOUR = 20;

/** Events one replay call sends at most; a longer range answers `nextSince` to go on from. */
const REPLAY_MAX = 1000;
/** A replay's pace when the webhook has no lower throttle. */
const REPLAY_PER_SECOND = 10;
/** Held deliveries are due this late until their slots are written (the sweeper's fallback after a crash). */
const REPLAY_HOLD_MS = 3_600_000;

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
    bucket: platform.history,
    settings: platform.settings.webhooks,
    secretKey: platform.secrets.webhookKey,
    fetch: platform.fetch,
    now,
    random: platform.random,
    log,
    pacer: platform.pacer,
    disable: (disablings) => deps.webhooks().disable(disablings),
  };

  /** A delivery found in the archive is written back to D1, then read as any other. */
  async function recalled(caller: Caller, id: string) {
    if ((await deps.history().recall(caller.accountId, id)) === null) return null;
    return repo.getDelivery(db, caller.accountId, id);
  }

  const service = {
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
      const { delivery, event } = found(hot ?? undefined, "Delivery");
      await deps.webhooks().active(caller, delivery.webhookId);
      if (event.contentDeletedAt !== null) {
        throw new ApiError("conflict", "The event's content was deleted: this delivery cannot be sent again");
      }
      await repo.revive(db, [id], now());
      await enqueue(queue, log, [id]);
      return { id: delivery.id, webhookId: delivery.webhookId, status: "pending" as const };
    },

    /** Re-sends every failed delivery of the webhook created since `since`. */
    async recover(caller: Caller, webhookId: string, since: string) {
      await deps.webhooks().active(caller, webhookId);
      const failed = await repo.failedSince(db, caller.accountId, webhookId, Date.parse(since));
      const ids = await repo.revive(db, failed, now());
      await enqueue(queue, log, ids);
      return ids.length;
    },

    /**
     * Replays what the webhook missed in [since, until): every event of its types (and filter),
     * published since it was created, that it has not received — none sent to it (published while
     * it was disabled), or failed — including events already in the archive (recalled to D1 first). Each is sent once
     * (a repeated or racing replay finds them taken), in order of publication, at most
     * {@link REPLAY_PER_SECOND} a second (or the webhook's throttle), through the pacer's slots.
     */
    async replay(caller: Caller, webhookId: string, range: { since: string; until?: string | undefined }) {
      const webhook = await deps.webhooks().active(caller, webhookId);
      const at = now();
      const fromMs = Date.parse(range.since);
      const toMs = range.until === undefined ? at : Date.parse(range.until);
      if (!(toMs > fromMs)) throw validationError([{ path: ["until"], message: "must be after since" }]);
      const wants = (type: string, entity: Record<string, unknown>) =>
        (webhook.events.includes("*") || webhook.events.includes(type)) && matchesFilter(entity, webhook.filter);
      // Never an event from before the webhook existed: it was not meant for it.
      const from = idFloor("evt", Math.max(fromMs, webhook.createdAt));
      const before = idFloor("evt", toMs);
      await deps.history().recallMissed(caller.accountId, webhookId, { from, before }, wants, REPLAY_MAX);
      const candidates = await repo.replayCandidates(db, {
        accountId: caller.accountId,
        webhookId,
        from,
        before,
        types: webhook.events,
        limit: REPLAY_MAX + 1,
      });
      const more = candidates.length > REPLAY_MAX;
      // A filter reads the entity: one kept in R2 is read back for it.
      const read = candidates.slice(0, REPLAY_MAX).map((c) => ({ ...c, id: c.eventId, accountId: caller.accountId }));
      const judged = webhook.filter ? await withEntityObjects(platform.history, read) : read;
      const chosen = judged.filter((c) => wants(c.type, c.entity));
      const owned = await repo.holdForReplay(
        db,
        webhookId,
        chosen.map((c) => c.eventId),
        at + REPLAY_HOLD_MS,
        at,
      );
      // Slots in order of publication, for exactly the deliveries this call owns.
      owned.sort((a, b) => (a.eventId < b.eventId ? -1 : 1));
      if (owned.length > 0) {
        const perSecond = Math.min(webhook.throttle ?? REPLAY_PER_SECOND, REPLAY_PER_SECOND);
        let slots: number[];
        try {
          slots = await takeSlots({ pacer: platform.pacer }, webhookId, at, perSecond, owned.length);
        } catch (err) {
          // The held deliveries still go out once, in order, at the replay's pace: slots counted
          // here from a little later (only the webhook's other traffic is not paced with them).
          log("warn", "pacer unavailable; replay paced from here", { webhookId, error: describe(err) });
          slots = owned.map((_, i) => at + PACER_DOWN_DEFER_MS + Math.ceil((i * 1000) / perSecond));
        }
        const placed = owned.map((d, i) => ({ id: d.id, slot: slots[i] ?? at }));
        await repo.assignSlots(db, placed, at);
        await enqueueDelayed(
          queue,
          log,
          placed.map((p) => ({ id: p.id, delaySeconds: delayUntil(p.slot, at) })),
        );
      }
      const last = candidates[REPLAY_MAX - 1];
      return {
        replayed: owned.length,
        nextSince: more && last ? iso(timeOfId(last.eventId)) : null,
      };
    },

    /** The replay of every active webhook of the account over one range. */
    async replayAll(caller: Caller, range: { since: string; until?: string | undefined }) {
      const out: { id: string; replayed: number; nextSince: string | null }[] = [];
      for (const id of await deps.webhooks().activeIds(caller)) {
        out.push({ id, ...(await service.replay(caller, id, range)) });
      }
      return { webhooks: out, replayed: out.reduce((n, w) => n + w.replayed, 0) };
    },

    /** A synthetic event (the catalog's example entity) through the same path, to this webhook only. */
    async test(caller: Caller, webhookId: string, type = "webhook.test") {
      await deps.webhooks().active(caller, webhookId);
      const at = now();
      const sent = await testSends(platform.kv, log).hit(webhookId, TEST_SENDS_PER_HOUR, at, platform.waitUntil);
      if (!sent.allowed) {
        throw rateLimited(`At most ${TEST_SENDS_PER_HOUR} test events per webhook per hour`, sent.resetAt, at);
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
  return service;
}

export type DeliveriesService = ReturnType<typeof createDeliveriesService>;

import { readCronState, writeCronState } from "../../db/client";
import type { DeliveryRow, EventRow } from "../../db/schema";
import type { Caller } from "../../lib/caller";
import { idFloor, newId } from "../../lib/encoding";
import { ApiError, validationError } from "../../lib/errors";
import { IsolateSet } from "../../lib/isolate-memory";
import { describe } from "../../lib/log";
import { found, iso } from "../../lib/schemas";
import type { Platform } from "../../platform";
import { insertAudit } from "../audit/audit.repo";
import { auditRow } from "../audit/audit.service";
import { enqueue } from "../deliveries/enqueue";
import { sendFirstAttempts } from "../deliveries/first-attempt";
import type { Disabling } from "../deliveries/group-commit";
import type { Job } from "../deliveries/job";
import { writeOutbox } from "../deliveries/outbox";
import { firstAttemptLeaseMs } from "../deliveries/timings";
import { ANSWER_BUDGET_MS as PURGE_ANSWER_BUDGET_MS } from "../edge/invalidation";
import type { HistoryService } from "../history/history.service";
import { matchesFilter } from "../webhooks/filter";
import { targetsOf } from "../webhooks/targets";
import { BUILT_IN_EVENT_TYPES, BUILT_IN_NAMES } from "./catalog";
import * as repo from "./events.repo";
import { MAX_ENTITY_BYTES, PublishBody } from "./events.schemas";

/** How long an idempotency key answers its first event (the cron clears older ones). */
const IDEMPOTENCY_MS = 24 * 3600 * 1000;

export interface PublishInput {
  type: string;
  entity: Record<string, unknown>;
  idempotencyKey?: string;
}

/** Where an event is published: its account, and the webhooks version the caller read, if any. */
export interface PublishScope {
  accountId: string;
  webhooksVersion: number | null;
}

export interface PublishOptions {
  /** Only this webhook (a test send), whatever it subscribes to. */
  onlyWebhookId?: string;
  isTest?: boolean;
  /**
   * `now` (the default): the first attempts are sent from this invocation right away; `queue`: they
   * go through the queue (the cron, and Keyhook's own events from the consumer, have no one waiting).
   */
  send?: "now" | "queue";
  /**
   * Nothing is sent before this settles (the event is written at once): a change's own event waits
   * for the change's edge purge, so no receiver hears of a revoke before the revoke holds everywhere.
   */
  after?: Promise<unknown>;
}

const toEvent = (e: EventRow) => ({
  id: e.id,
  type: e.type,
  accountId: e.accountId,
  occurredAt: iso(e.createdAt),
  entity: e.entity,
  contentDeletedAt: e.contentDeletedAt === null ? null : iso(e.contentDeletedAt),
});

const toDeliverySummary = (d: Pick<DeliveryRow, "id" | "webhookId" | "status">) => ({
  id: d.id,
  webhookId: d.webhookId,
  status: d.status as "pending" | "succeeded" | "failed" | "cancelled",
});

/** Rows the retention changes per table per cron run (the next run goes on). */
const RETENTION_BATCH = 1000;
const RETENTION_CURSOR = "retention.events";

/** Event types this isolate has registered for an account (bounded): no statement to register them again. */
const registered = new IsolateSet<string>("event types registered", 10_000);

function needsRegistration(accountId: string, type: string) {
  const key = `${accountId} ${type}`;
  if (registered.has(key)) return false;
  registered.add(key);
  return true;
}

/**
 * An event's input, whichever door it came through (the API, the service binding, Keyhook itself):
 * the contract's schema, and an entity of at most 64 KiB as JSON (413, as a body over the limit is).
 */
function checked(input: PublishInput): PublishInput {
  const parsed = PublishBody.safeParse(input);
  if (!parsed.success) throw validationError(parsed.error.issues);
  if (JSON.stringify(parsed.data.entity).length > MAX_ENTITY_BYTES) {
    throw new ApiError("payload_too_large", "The entity is larger than 64 KiB");
  }
  return parsed.data;
}

export interface EventsDeps {
  /** Disables webhooks a first attempt found gone or failing too long (the webhooks service's). */
  disableWebhooks: (disablings: Disabling[]) => Promise<void>;
  /** The archive, for an event that has left D1. */
  history: () => HistoryService;
}

/** Publishing (the outbox) and the event catalog. */
export function createEventsService(platform: Platform, deps: EventsDeps) {
  const { db, now } = platform;
  const firstAttempts = {
    db,
    queue: platform.queue,
    settings: platform.settings.webhooks,
    secretKey: platform.secrets.webhookKey,
    fetch: platform.fetch,
    now,
    random: platform.random,
    log: platform.log,
    pacer: platform.pacer,
    disable: deps.disableWebhooks,
  };

  /** A repeated idempotency key: the first event and its deliveries, nothing sent again. */
  async function answerFirst(first: EventRow) {
    return { event: toEvent(first), deliveries: (await repo.deliveriesOf(db, first.id)).map(toDeliverySummary) };
  }

  /** The same for an event in the archive: its object(s) written again without the content. */
  async function deleteArchivedContent(caller: Caller, id: string) {
    const archived = found((await deps.history().findArchived(caller.accountId, id)) ?? undefined, "Event").event;
    const row: EventRow = {
      id: archived.id,
      accountId: archived.accountId,
      type: archived.type,
      entity: archived.entity,
      idempotencyKey: null,
      createdAt: archived.createdAt,
      contentDeletedAt: archived.contentDeletedAt,
    };
    if (archived.contentDeletedAt !== null) return { event: toEvent(row), cancelledDeliveries: [] };
    const at = now();
    await deps.history().deleteContent(caller.accountId, id, at);
    const target = { type: "event", id, name: archived.type };
    await insertAudit(db, auditRow(caller.audit, caller.accountId, "event.content_deleted", target, null, at));
    return { event: toEvent({ ...row, entity: {}, contentDeletedAt: at }), cancelledDeliveries: [] };
  }

  const service = {
    /**
     * Keyhook's own event about a change just stored (`api_key.*`, `oauth_client.*`): published for
     * the caller's account; a failure is logged, never undoes the change or fails the request.
     */
    async announce(caller: Caller, type: string, entity: Record<string, unknown>, after?: Promise<unknown>) {
      try {
        await service.publish(
          { accountId: caller.accountId, webhooksVersion: caller.webhooksVersion },
          { type, entity },
          after ? { after } : {},
        );
      } catch (err) {
        platform.log("error", "could not publish own event", { type, error: describe(err) });
      }
    },

    /**
     * Publishes an event: writes it with one delivery per matching webhook (outbox) in one D1 round
     * trip, then either sends the first attempts from this invocation right away or queues them. A
     * repeated idempotency key (within 24 h) answers the first event and sends nothing.
     */
    async publish(scope: PublishScope, raw: PublishInput, opts: PublishOptions = {}) {
      const input = checked(raw);
      const { accountId } = scope;
      const at = now();
      if (input.idempotencyKey) {
        await repo.releaseIdempotencyKey(db, accountId, input.idempotencyKey, at - IDEMPOTENCY_MS);
        const existing = await repo.findByIdempotencyKey(db, accountId, input.idempotencyKey);
        if (existing) return answerFirst(existing);
      }
      const event: EventRow = {
        id: newId("evt", at),
        accountId,
        type: input.type,
        entity: input.entity,
        idempotencyKey: input.idempotencyKey ?? null,
        createdAt: at,
        contentDeletedAt: null,
      };
      // What a delivery signs and sends: the entity's JSON text exactly as stored.
      const sent = { ...event, entity: JSON.stringify(input.entity) };
      const { settings } = platform;
      /** The deliveries for these targets, and whether their first attempts go from here. */
      const plan = (targets: Awaited<ReturnType<typeof targetsOf>>["targets"]) => {
        const jobs: Job[] = targets
          .filter((w) =>
            opts.onlyWebhookId
              ? w.id === opts.onlyWebhookId
              : (w.events.includes("*") || w.events.includes(input.type)) && matchesFilter(input.entity, w.filter),
          )
          .map((webhook) => ({ delivery: { id: newId("dlv", at), accountId, attempts: 0 }, event: sent, webhook }));
        const sendNow = jobs.length > 0 && opts.send !== "queue";
        // A first attempt held for `after` (a purge: at most its answer budget) owns its deliveries that much longer.
        const held = opts.after ? PURGE_ANSWER_BUDGET_MS : 0;
        const leaseMs = sendNow
          ? firstAttemptLeaseMs({ ...settings.webhooks, d1TimeoutMs: settings.d1TimeoutMs }) + held
          : 0;
        const rows = jobs.map((j) => ({ id: j.delivery.id, webhookId: j.webhook.id }));
        return { jobs, sendNow, leaseMs, rows };
      };
      const register = !BUILT_IN_NAMES.has(input.type) && !opts.isTest && needsRegistration(accountId, input.type);
      const write = (p: ReturnType<typeof plan>, webhooksVersion: number | null) =>
        writeOutbox(
          db,
          {
            event: sent,
            rows: p.rows,
            nextAttemptAt: at + p.leaseMs,
            isTest: opts.isTest ?? false,
            registerType: register,
            webhooksVersion,
          },
          platform.waitUntil,
        );
      let planned: ReturnType<typeof plan>;
      try {
        const known = await targetsOf(db, accountId, scope.webhooksVersion);
        planned = plan(known.targets);
        let written = await write(planned, known.version);
        if (!written && known.version !== null) {
          // The account's webhooks changed since this isolate read them (or it was deleted): read, plan, write again.
          const fresh = await targetsOf(db, accountId, "fresh");
          planned = plan(fresh.targets);
          written = fresh.version !== null && (await write(planned, fresh.version));
        }
        if (!written) throw new ApiError("not_found", "Account not found");
      } catch (err) {
        if (err instanceof ApiError) throw err;
        if (register) registered.delete(`${accountId} ${input.type}`);
        // Two publishes raced on one idempotency key: the unique index let one through; answer it.
        const first = input.idempotencyKey && (await repo.findByIdempotencyKey(db, accountId, input.idempotencyKey));
        if (!first) throw err;
        return answerFirst(first);
      }
      const { jobs, sendNow, leaseMs, rows } = planned;
      const after = opts.after?.catch(() => undefined);
      if (sendNow) {
        const lease = Math.ceil(leaseMs / 1000);
        platform.waitUntil(
          after
            ? after.then(() => sendFirstAttempts(firstAttempts, jobs, lease))
            : sendFirstAttempts(firstAttempts, jobs, lease),
        );
      } else {
        if (after) await after;
        await enqueue(
          platform.queue,
          platform.log,
          rows.map((r) => r.id),
        );
      }
      return { event: toEvent(event), deliveries: rows.map((r) => toDeliverySummary({ ...r, status: "pending" })) };
    },

    /** Keyhook's own types first, then the account's, each with a description and an example. */
    async listTypes(accountId: string) {
      const own = (await repo.accountEventTypes(db, accountId)).filter((t) => !BUILT_IN_NAMES.has(t.name));
      return [
        ...BUILT_IN_EVENT_TYPES.map((t) => ({ ...t, example: t.example as unknown, builtIn: true })),
        ...own.map((t) => ({ name: t.name, description: t.description, example: t.example ?? null, builtIn: false })),
      ];
    },

    async registerType(accountId: string, input: { name: string; description?: string; example?: unknown }) {
      const row = await repo.upsertEventType(db, {
        accountId,
        name: input.name,
        description: input.description ?? null,
        example: input.example === undefined ? null : input.example,
        createdAt: now(),
      });
      return { name: row.name, description: row.description, example: row.example ?? null, builtIn: false };
    },

    /**
     * Expunges an event's content now: its entity (the event keeps its id, type and time), its
     * attempts' request and response bodies, and the deliveries still pending for it (cancelled).
     * Audited; a second call changes nothing and answers the same.
     */
    async deleteContent(caller: Caller, id: string) {
      const hot = await repo.findEvent(db, caller.accountId, id);
      if (!hot) return deleteArchivedContent(caller, id);
      const event = hot;
      if (event.contentDeletedAt !== null) return { event: toEvent(event), cancelledDeliveries: [] };
      const webhookIds = [...new Set((await repo.deliveriesOf(db, id)).map((d) => d.webhookId))];
      const at = now();
      const target = { type: "event", id, name: event.type };
      const audit = auditRow(caller.audit, caller.accountId, "event.content_deleted", target, null, at);
      const cancelled = await repo.deleteContent(db, event, webhookIds, at, audit);
      return {
        event: toEvent({ ...event, entity: {}, contentDeletedAt: at }),
        cancelledDeliveries: cancelled ?? [],
      };
    },

    /**
     * The cron: event content older than the retention is deleted — entities from a cursor kept in
     * D1 (events are in id order, which is time order, so a run reads only what it changes), attempt
     * bodies by their time. Ids, times, types and statuses stay for the history.
     */
    async expireContent() {
      const at = now();
      const cutoff = at - platform.settings.retentionDays * 86_400_000;
      const beforeId = idFloor("evt", cutoff);
      const from = (await readCronState(db, RETENTION_CURSOR)) ?? "evt_";
      const expired = await repo.expireEvents(db, from, beforeId, at, RETENTION_BATCH);
      // RETURNING is in no particular order: the cursor moves to the largest id changed.
      const next =
        expired.length < RETENTION_BATCH
          ? beforeId
          : (expired
              .map((e) => e.id)
              .sort()
              .at(-1) ?? beforeId);
      if (next !== from) await writeCronState(db, RETENTION_CURSOR, next);
      const bodies = await repo.expireAttemptBodies(db, cutoff, RETENTION_BATCH);
      return { events: expired.length, attempts: bodies.meta.changes ?? 0 };
    },

    /** The cron: idempotency keys older than 24 h let go of their events. */
    clearIdempotencyKeys: () => repo.clearIdempotencyKeys(db, now() - IDEMPOTENCY_MS),
  };
  return service;
}

export type EventsService = ReturnType<typeof createEventsService>;

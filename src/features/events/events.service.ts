import type { z } from "@hono/zod-openapi";
import { readCronState, writeCronState } from "../../db/client";
import type { EventTypeRow } from "../../db/schema";
import type { Caller } from "../../lib/caller";
import { idFloor, newId } from "../../lib/encoding";
import { ApiError, validationError } from "../../lib/errors";
import { IsolateMap, IsolateSet } from "../../lib/isolate-memory";
import { assertShallow, jsonLength, readStoredJson } from "../../lib/json-depth";
import { describe } from "../../lib/log";
import { found, iso } from "../../lib/schemas";
import type { Platform } from "../../platform";
import { insertAudit } from "../audit/audit.repo";
import { auditRow } from "../audit/audit.service";
import { enqueue } from "../deliveries/enqueue";
import { sendFirstAttempts } from "../deliveries/first-attempt";
import type { Disabling } from "../deliveries/group-commit";
import type { EventSnapshot, Job } from "../deliveries/job";
import { writeOutbox } from "../deliveries/outbox";
import { firstAttemptLeaseMs } from "../deliveries/timings";
import { ANSWER_BUDGET_MS as PURGE_ANSWER_BUDGET_MS } from "../edge/invalidation";
import { forgetEntities, isEntityRef, loadEntity, RESERVED_ENTITY_KEY, storeEntity } from "../history/entity-object";
import type { HistoryService } from "../history/history.service";
import {
  type DeliveryStatus,
  deliveryId,
  idOfDelivery,
  MAX_DELIVERIES_PER_EVENT,
  type StoredEvent,
} from "../history/stored-event";
import { matchesFilter } from "../webhooks/filter";
import { forgetTargets, type PublishPlanInputs, targetsOf } from "../webhooks/targets";
import { BUILT_IN_NAMES, BUILT_IN_TYPES } from "./catalog";
import { type CatalogEntry, catalogDocument } from "./catalog-document";
import { compileSchema, type EntityValidator, MAX_SCHEMA_BYTES, schemaViolation } from "./entity-schema";
import * as repo from "./events.repo";
import { MAX_ENTITY_BYTES, PublishBody, type RegisterEventTypeBody } from "./events.schemas";
import type { SentEvent } from "./sent-event";

/** How long an idempotency key answers its first event (the cron clears older ones). */
const IDEMPOTENCY_MS = 24 * 3600 * 1000;

export interface PublishInput {
  type: string;
  entity: Record<string, unknown>;
  idempotencyKey?: string;
  /** Svix's channels: a webhook with channels is sent only events naming one of them. */
  channels?: string[];
  /** Svix's tags, kept with the event to find it by. */
  tags?: string[];
}

/** A webhook with channels takes an event naming one of them; one without takes any. */
const inChannels = (webhook: string[] | null, event: string[] | undefined) =>
  webhook === null || (event?.some((c) => webhook.includes(c)) ?? false);

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

/** An event as the API shows it (the entity parsed from its stored text). */
interface ShownEvent {
  id: string;
  type: string;
  accountId: string;
  createdAt: number;
  entity: string;
  contentDeletedAt: number | null;
}

const toEvent = (e: ShownEvent) => ({
  id: e.id,
  type: e.type,
  accountId: e.accountId,
  occurredAt: iso(e.createdAt),
  entity: (readStoredJson(e.entity) ?? {}) as Record<string, unknown>,
  contentDeletedAt: e.contentDeletedAt === null ? null : iso(e.contentDeletedAt),
});

const toDeliverySummary = (d: { id: string; webhookId: string; status: DeliveryStatus }) => ({
  id: d.id,
  webhookId: d.webhookId,
  status: d.status,
});

/**
 * Whether a webhook takes events of this type: named, or `*` — but Keyhook's own events
 * (`api_key.*`, `webhook.*`) reach a Svix-format endpoint only when it names them: a Svix
 * endpoint without event types takes every message of its application, and Keyhook's own
 * events are not messages (Svix sends those as operational webhooks, elsewhere).
 */
const subscribes = (w: { events: string[]; deliveryFormat: string }, type: string) =>
  w.events.includes(type) || (w.events.includes("*") && !(w.deliveryFormat === "raw" && BUILT_IN_NAMES.has(type)));

/** A stored event's deliveries as the publish answer lists them. */
const summariesOf = (e: StoredEvent) =>
  e.deliveries.map((d, i) => toDeliverySummary({ id: idOfDelivery(e.id, i, d), webhookId: d.w, status: d.s }));

/** Events the retention changes per cron run (the next run goes on). */
const RETENTION_BATCH = 100;
const RETENTION_CURSOR = "retention.events";

/** Event types this isolate has registered for an account (bounded): no statement to register them again. */
const registered = new IsolateSet<string>("event types registered", 10_000);

function needsRegistration(accountId: string, type: string) {
  const key = `${accountId} ${type}`;
  if (registered.has(key)) return false;
  registered.add(key);
  return true;
}

/** Compiled catalog schemas, by account, webhooks version and type (bounded). */
const validators = new IsolateMap<string, EntityValidator>("compiled event type schemas", 1_000);

/**
 * Publish's check of the entity against its type's schema, when the type validates: 400 naming each
 * failing path. Checked against the schemas of the version the outbox write then confirms.
 */
function enforceSchema(accountId: string, inputs: PublishPlanInputs, input: PublishInput) {
  const entry = inputs.schemas.find((s) => s.name === input.type);
  if (!entry || entry.schema === null) return;
  const key = `${accountId} ${inputs.version} ${input.type}`;
  let validator = inputs.version === null ? undefined : validators.get(key);
  if (!validator) {
    validator = compileSchema(entry.schema);
    if (inputs.version !== null) validators.set(key, validator);
  }
  const issues = validator.check(input.entity);
  if (issues.length > 0) throw schemaViolation(input.type, issues);
}

type RegisterInput = z.infer<typeof RegisterEventTypeBody>;

const examplesOf = (row: Pick<EventTypeRow, "examples" | "example">): Record<string, unknown>[] =>
  row.examples ?? (row.example && typeof row.example === "object" ? [row.example as Record<string, unknown>] : []);

/** A catalog row as the API shows it. */
const toEventType = (row: EventTypeRow) => {
  const examples = examplesOf(row);
  return {
    name: row.name,
    description: row.description,
    group: row.groupName,
    schema: row.schema ?? null,
    examples,
    example: examples[0] ?? null,
    validate: row.validate,
    deprecated: row.deprecated,
    archived: row.archived,
    builtIn: false,
  };
};

/**
 * An event's input, whichever door it came through (the API, the service binding, Keyhook itself):
 * the contract's schema, and an entity of at most 1 MiB as JSON (413, as a body over the limit is)
 * without the top-level key `$keyhook` (what D1 keeps in place of an entity held in R2).
 */
function checked(input: PublishInput): PublishInput {
  const parsed = PublishBody.safeParse(input);
  if (!parsed.success) throw validationError(parsed.error.issues);
  if (jsonLength(parsed.data.entity, "entity") > MAX_ENTITY_BYTES) {
    throw new ApiError("payload_too_large", "The entity is larger than 1 MiB");
  }
  if (Object.hasOwn(parsed.data.entity, RESERVED_ENTITY_KEY)) {
    throw validationError([{ path: ["entity", RESERVED_ENTITY_KEY], message: "this top-level key is Keyhook's own" }]);
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
    bucket: platform.history,
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

  /** The entity's text, read from R2 when D1 keeps a reference (an entity over 16 KiB). */
  const shown = async <E extends ShownEvent>(e: E): Promise<E> =>
    isEntityRef(e.entity) ? { ...e, entity: await loadEntity(platform.history, e.accountId, e.id, e.entity) } : e;

  /** A repeated idempotency key: the first event and its deliveries, nothing sent again. */
  async function answerFirst(first: StoredEvent) {
    return { event: toEvent(await shown(first)), deliveries: summariesOf(first) };
  }

  /** The same for an event in the archive: its object(s) written again without the content. */
  async function deleteArchivedContent(caller: Caller, id: string) {
    const archived = found((await deps.history().findArchived(caller.accountId, id)) ?? undefined, "Event").event;
    const row: ShownEvent = { ...archived, entity: JSON.stringify(archived.entity) };
    if (archived.contentDeletedAt !== null) return { event: toEvent(row), cancelledDeliveries: [] };
    const at = now();
    await deps.history().deleteContent(caller.accountId, id, at);
    const target = { type: "event", id, name: archived.type };
    await insertAudit(db, auditRow(caller.audit, caller.accountId, "event.content_deleted", target, null, at));
    return { event: toEvent({ ...row, entity: "{}", contentDeletedAt: at }), cancelledDeliveries: [] };
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
    /** The live event published with this idempotency key (24 h), if any. */
    async findByIdempotencyKey(accountId: string, key: string) {
      await repo.releaseIdempotencyKey(db, accountId, key, now() - IDEMPOTENCY_MS);
      const found = await repo.findByIdempotencyKey(db, accountId, key);
      return found ? { id: found.id } : undefined;
    },

    async publish(scope: PublishScope, raw: PublishInput, opts: PublishOptions = {}) {
      const input = checked(raw);
      const { accountId } = scope;
      const at = now();
      if (input.idempotencyKey) {
        await repo.releaseIdempotencyKey(db, accountId, input.idempotencyKey, at - IDEMPOTENCY_MS);
        const existing = await repo.findByIdempotencyKey(db, accountId, input.idempotencyKey);
        if (existing) return answerFirst(existing);
      }
      // What a delivery signs and sends: the entity's JSON text exactly as stored.
      const sent: SentEvent = {
        id: newId("evt", at),
        accountId,
        type: input.type,
        entity: JSON.stringify(input.entity),
        createdAt: at,
      };
      // Too large for D1: in R2 before the row that names it is written (removed again if none is).
      const stored = await storeEntity(platform.history, accountId, sent.id, sent.entity);
      if (stored !== sent.entity) sent.stored = stored;
      const unstore = async () => {
        if (sent.stored) await forgetEntities(platform.history, [sent]).catch(() => undefined);
      };
      const { settings } = platform;
      /** The deliveries for these targets, and whether their first attempts go from here. */
      const plan = (inputs: PublishPlanInputs) => {
        if (!opts.isTest) enforceSchema(accountId, inputs, input);
        const jobs: Job[] = inputs.targets
          .filter((w) =>
            opts.onlyWebhookId
              ? w.id === opts.onlyWebhookId
              : subscribes(w, input.type) &&
                inChannels(w.channels, input.channels) &&
                matchesFilter(input.entity, w.filter),
          )
          .map((webhook, index) => ({
            delivery: { id: deliveryId(sent.id, index), accountId, attempts: 0 },
            event: sent,
            webhook,
          }));
        const sendNow = jobs.length > 0 && opts.send !== "queue";
        // A first attempt held for `after` (a purge: at most its answer budget) owns its deliveries that much longer.
        const held = opts.after ? PURGE_ANSWER_BUDGET_MS : 0;
        const leaseMs = sendNow
          ? firstAttemptLeaseMs({ ...settings.webhooks, d1TimeoutMs: settings.d1TimeoutMs }) + held
          : 0;
        const rows = jobs.map((j) => ({ id: j.delivery.id, webhookId: j.webhook.id }));
        // The row as the outbox writes it: all first attempts ending together pack it in one write.
        const snapshot: EventSnapshot = {
          rev: 0,
          deliveries: jobs.map((j) => ({ w: j.webhook.id, s: "pending", n: 0 })),
          attempts: [],
        };
        for (const job of jobs) job.snapshot = snapshot;
        if (rows.length > MAX_DELIVERIES_PER_EVENT) {
          throw new ApiError("conflict", `An event goes to at most ${MAX_DELIVERIES_PER_EVENT} webhooks`);
        }
        return { jobs, sendNow, leaseMs, rows };
      };
      const register = !BUILT_IN_NAMES.has(input.type) && !opts.isTest && needsRegistration(accountId, input.type);
      const write = (p: ReturnType<typeof plan>, webhooksVersion: number | null) =>
        writeOutbox(
          db,
          {
            event: { ...sent, entity: sent.stored ?? sent.entity, idempotencyKey: input.idempotencyKey ?? null },
            webhookIds: p.rows.map((r) => r.webhookId),
            channels: input.channels ?? null,
            tags: input.tags ?? null,
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
        planned = plan(known);
        let written = await write(planned, known.version);
        if (!written && known.version !== null) {
          // The account's webhooks changed since this isolate read them (or it was deleted): read, plan, write again.
          const fresh = await targetsOf(db, accountId, "fresh");
          planned = plan(fresh);
          written = fresh.version !== null && (await write(planned, fresh.version));
        }
        if (!written) throw new ApiError("not_found", "Account not found");
      } catch (err) {
        if (register) registered.delete(`${accountId} ${input.type}`);
        await unstore();
        if (err instanceof ApiError) throw err;
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
      return {
        event: toEvent({ ...sent, contentDeletedAt: null }),
        deliveries: rows.map((r) => toDeliverySummary({ ...r, status: "pending" })),
      };
    },

    /** Keyhook's own types first, then the account's (archived ones only when asked for). */
    async listTypes(accountId: string, opts: { includeArchived?: boolean } = {}) {
      const own = (await repo.accountEventTypes(db, accountId))
        .filter((t) => !BUILT_IN_NAMES.has(t.name) && (opts.includeArchived || !t.archived))
        .map(toEventType);
      return [...BUILT_IN_TYPES, ...own];
    },

    async getType(accountId: string, name: string) {
      const builtIn = BUILT_IN_TYPES.find((t) => t.name === name);
      if (builtIn) return builtIn;
      return toEventType(found(await repo.findEventType(db, accountId, name), "Event type"));
    },

    /**
     * Registers a type, or changes the one of that name (fields left out keep their value). A schema
     * must compile as draft 2020-12 and every example must match it (400 naming the example's path).
     */
    async registerType(accountId: string, input: RegisterInput) {
      if (BUILT_IN_NAMES.has(input.name)) {
        throw new ApiError("conflict", `${input.name} is one of Keyhook's own event types`);
      }
      const current = await repo.findEventType(db, accountId, input.name);
      const pick = <T>(given: T | undefined, kept: T) => (given === undefined ? kept : given);
      const schema = pick(input.schema, current?.schema ?? null);
      const examples = input.examples ?? (input.example ? [input.example] : current ? examplesOf(current) : []);
      const validate = pick(input.validate, current?.validate ?? false);
      if (validate && schema === null) {
        throw new ApiError("validation_failed", "Invalid request: validate: needs a schema", [
          { path: "validate", message: "needs a schema" },
        ]);
      }
      examples.forEach((example, i) => {
        assertShallow(example, `examples.${i}`);
      });
      if (schema !== null) {
        if (jsonLength(schema, "schema") > MAX_SCHEMA_BYTES) {
          throw new ApiError("payload_too_large", "The schema is larger than 32 KiB");
        }
        const validator = compileSchema(schema);
        examples.forEach((example, i) => {
          const issues = validator.check(example, `examples.${i}`);
          if (issues.length > 0) {
            throw new ApiError(
              "validation_failed",
              `Example ${i} does not match the schema: ${issues[0]?.message}`,
              issues,
            );
          }
        });
      }
      const at = now();
      const row = await repo.saveEventType(db, {
        accountId,
        name: input.name,
        description: pick(input.description, current?.description ?? null),
        groupName: pick(input.group, current?.groupName ?? null),
        schema,
        examples,
        example: examples[0] ?? null,
        validate,
        deprecated: pick(input.deprecated, current?.deprecated ?? false),
        archived: pick(input.archived, current?.archived ?? false),
        createdAt: current?.createdAt ?? at,
        updatedAt: at,
      });
      forgetTargets(accountId);
      return toEventType(found(row, "Event type"));
    },

    /** The catalog (archived types left out) as an OpenAPI 3.1 document with a `webhooks` section. */
    async catalogDocument(accountId: string, origin: string) {
      const entries: CatalogEntry[] = await service.listTypes(accountId);
      return catalogDocument(entries, origin);
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
      const at = now();
      const target = { type: "event", id, name: event.type };
      const audit = auditRow(caller.audit, caller.accountId, "event.content_deleted", target, null, at);
      const cancelled = await repo.deleteContent(db, event, at, audit);
      if (isEntityRef(event.entity)) await forgetEntities(platform.history, [event]);
      return {
        event: toEvent({ ...event, entity: "{}", contentDeletedAt: at }),
        cancelledDeliveries: cancelled ?? [],
      };
    },

    /**
     * The cron: event content older than the retention is deleted, from a cursor kept in D1
     * (events are in id order, which is time order, so a run reads only what it changes): the
     * entity and the attempts' bodies, with each event. Ids, times, types and statuses stay for
     * the history.
     */
    async expireContent() {
      const at = now();
      const cutoff = at - platform.settings.retentionDays * 86_400_000;
      const beforeId = idFloor("evt", cutoff);
      const from = (await readCronState(db, RETENTION_CURSOR)) ?? "evt_";
      const { scanned, expired } = await repo.expireEvents(db, from, beforeId, at, RETENTION_BATCH);
      // A full batch goes on after its last id next time; a short one reached the cutoff.
      const next = scanned.length < RETENTION_BATCH ? beforeId : (scanned.at(-1) ?? beforeId);
      if (next !== from) await writeCronState(db, RETENTION_CURSOR, next);
      // Entities kept in R2 go with their content (a delete of a key that holds nothing is free).
      await forgetEntities(platform.history, expired);
      return { events: expired.length };
    },

    /** The cron: idempotency keys older than 24 h let go of their events. */
    clearIdempotencyKeys: () => repo.clearIdempotencyKeys(db, now() - IDEMPOTENCY_MS),
  };
  return service;
}

export type EventsService = ReturnType<typeof createEventsService>;

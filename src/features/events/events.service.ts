import type { Db } from "../../db/client";
import type { DeliveryRow, EventRow } from "../../db/schema";
import { newId } from "../../lib/encoding";
import { iso } from "../../lib/schemas";
import type { Job } from "../deliveries/attempt";
import { type RunnerDeps, runJobs, verdictsToQueue } from "../deliveries/runner";
import { type FilterCondition, matchesFilter } from "../webhooks/filter";
import { targetsOf } from "../webhooks/targets";
import { BUILT_IN_EVENT_TYPES, BUILT_IN_NAMES } from "./catalog";
import * as repo from "./events.repo";

/** How long an idempotency key answers its first event (the cron clears older ones). */
export const IDEMPOTENCY_MS = 24 * 3600 * 1000;

/** Sends the first attempts from the publishing invocation (`waitUntil`) instead of through the queue. */
export interface FirstAttempt {
  runner: RunnerDeps;
  waitUntil: (p: Promise<unknown>) => void;
}

export interface PublishDeps {
  db: Db;
  queue: Queue;
  accountId: string;
  now: number;
  /** The account's `webhooksVersion` if the caller has read it (the key lookup does); else the webhooks are read. */
  webhooksVersion?: number | null;
  firstAttempt?: FirstAttempt;
}

export interface PublishInput {
  type: string;
  entity: Record<string, unknown>;
  idempotencyKey?: string;
}

/**
 * A first attempt made by the publishing invocation owns its deliveries this long (the receiver's
 * timeout and a margin to record the outcome): no consumer claims them before, and the cron finds
 * them overdue after (if the invocation stopped before recording what happened).
 */
export const FIRST_ATTEMPT_MARGIN_MS = 10_000;

/** Sends delivery ids to the queue; a failed send is harmless: the deliveries are in D1 and the cron re-queues due ones. */
export async function enqueue(queue: Queue, ids: string[]) {
  try {
    for (let i = 0; i < ids.length; i += 100) {
      await queue.sendBatch(ids.slice(i, i + 100).map((deliveryId) => ({ body: { deliveryId } })));
    }
  } catch (err) {
    console.error(JSON.stringify({ level: "warn", msg: "queue send failed; the cron will re-queue", error: String(err) }));
  }
}

export const toEvent = (e: EventRow) => ({
  id: e.id,
  type: e.type,
  accountId: e.accountId,
  occurredAt: iso(e.createdAt),
  entity: JSON.parse(e.entity) as Record<string, unknown>,
});

export const toDeliverySummary = (d: DeliveryRow) => ({
  id: d.id,
  webhookId: d.webhookId,
  status: d.status as "pending" | "succeeded" | "failed",
});

const subscribed = (events: string, type: string) => {
  const list = JSON.parse(events) as string[];
  return list.includes("*") || list.includes(type);
};

/** Event types this isolate has registered for an account (bounded): no statement to register them again. */
const registered = new Set<string>();

function needsRegistration(accountId: string, type: string) {
  const key = `${accountId} ${type}`;
  if (registered.has(key)) return false;
  if (registered.size >= 10_000) registered.clear();
  registered.add(key);
  return true;
}

export interface PublishOptions {
  /** Only this webhook (a test send), whatever it subscribes to. */
  onlyWebhookId?: string;
  isTest?: boolean;
}

/**
 * Publishes an event: writes it with one delivery per matching webhook (outbox) in one D1 round
 * trip, then either sends the first attempts from this invocation right away (`firstAttempt`) or
 * queues the delivery ids. A repeated idempotency key (within 24 h) answers the first event, sends nothing.
 */
export async function publishEvent(deps: PublishDeps, input: PublishInput, opts: PublishOptions = {}) {
  const { db, accountId, now } = deps;
  if (input.idempotencyKey) {
    await repo.releaseIdempotencyKey(db, accountId, input.idempotencyKey, now - IDEMPOTENCY_MS);
    const existing = await repo.findByIdempotencyKey(db, accountId, input.idempotencyKey);
    if (existing) return answerFirst(db, existing);
  }
  const event: EventRow = {
    id: newId("evt", now),
    accountId,
    type: input.type,
    entity: JSON.stringify(input.entity),
    idempotencyKey: input.idempotencyKey ?? null,
    createdAt: now,
  };
  const targets = (await targetsOf(db, accountId, deps.webhooksVersion ?? null)).filter((w) =>
    opts.onlyWebhookId
      ? w.id === opts.onlyWebhookId
      : subscribed(w.events, input.type) && matchesFilter(input.entity, w.filter ? (JSON.parse(w.filter) as FilterCondition[]) : null),
  );
  const jobs: Job[] = targets.map((webhook) => ({ delivery: { id: newId("dlv", now), accountId, attempts: 0 }, event, webhook }));
  const first = jobs.length > 0 ? deps.firstAttempt : undefined;
  const leaseMs = first ? first.runner.settings.timeoutMs + FIRST_ATTEMPT_MARGIN_MS : 0;
  const rows = jobs.map((j) => ({ id: j.delivery.id, webhookId: j.webhook.id }));
  const register = !BUILT_IN_NAMES.has(input.type) && !opts.isTest && needsRegistration(accountId, input.type);
  try {
    await repo.writeOutbox(db, event, rows, { nextAttemptAt: now + leaseMs, isTest: opts.isTest ?? false, registerType: register });
  } catch (err) {
    if (register) registered.delete(`${accountId} ${input.type}`);
    // Two publishes raced on one idempotency key: the unique index let one through; answer it.
    const firstEvent = input.idempotencyKey && (await repo.findByIdempotencyKey(db, accountId, input.idempotencyKey));
    if (!firstEvent) throw err;
    return answerFirst(db, firstEvent);
  }
  if (first) first.waitUntil(sendFirstAttempts(first.runner, deps.queue, jobs, Math.ceil(leaseMs / 1000)));
  else await enqueue(deps.queue, rows.map((r) => r.id));
  const deliveries = rows.map((r) => ({ id: r.id, webhookId: r.webhookId, status: "pending" as const }));
  return { event: toEvent(event), deliveries };
}

/**
 * The first attempts, recorded as they come back. A failed one goes to the queue after its retry
 * delay; one whose outcome could not be recorded, after its lease (the queue then sends it again).
 * A delivery that succeeds costs no queue message at all. If this invocation stops before it has
 * recorded an outcome, the delivery stays pending with its lease: the cron re-queues it when the
 * lease is over (at-least-once, a minute or two late, with the same `webhook-id`).
 */
async function sendFirstAttempts(runner: RunnerDeps, queue: Queue, jobs: Job[], leaseSeconds: number) {
  const later = verdictsToQueue(queue, leaseSeconds);
  await runJobs(runner, jobs, (job, verdict) => later.add(job, verdict));
  await later.send();
}

/** A repeated idempotency key: the first event and its deliveries, nothing sent again. */
async function answerFirst(db: Db, first: EventRow) {
  return { event: toEvent(first), deliveries: (await repo.deliveriesOf(db, first.id)).map(toDeliverySummary) };
}

/** Keyhook's own types first, then the account's, each with a description and an example. */
export async function listEventTypes(db: Db, accountId: string) {
  const own = (await repo.accountEventTypes(db, accountId)).filter((t) => !BUILT_IN_NAMES.has(t.name));
  return [
    ...BUILT_IN_EVENT_TYPES.map((t) => ({ ...t, example: t.example as unknown, builtIn: true })),
    ...own.map((t) => ({
      name: t.name,
      description: t.description,
      example: t.example ? (JSON.parse(t.example) as unknown) : null,
      builtIn: false,
    })),
  ];
}

export async function registerEventType(
  db: Db,
  accountId: string,
  input: { name: string; description?: string; example?: unknown },
  now: number,
) {
  const row = await repo.upsertEventType(db, {
    accountId,
    name: input.name,
    description: input.description ?? null,
    example: input.example === undefined ? null : JSON.stringify(input.example),
    createdAt: now,
  });
  return { name: row.name, description: row.description, example: row.example ? JSON.parse(row.example) : null, builtIn: false };
}

import type { Db } from "../../db/client";
import type { DeliveryRow, EventRow } from "../../db/schema";
import { newId } from "../../lib/encoding";
import { iso } from "../../lib/schemas";
import { type FilterCondition, matchesFilter } from "../webhooks/filter";
import { BUILT_IN_EVENT_TYPES, BUILT_IN_NAMES } from "./catalog";
import * as repo from "./events.repo";

/** How long an idempotency key answers its first event (the cron clears older ones). */
export const IDEMPOTENCY_MS = 24 * 3600 * 1000;

export interface PublishDeps {
  db: Db;
  queue: Queue;
  accountId: string;
  now: number;
}

export interface PublishInput {
  type: string;
  entity: Record<string, unknown>;
  idempotencyKey?: string;
}

/** Sends delivery ids to the queue; a failed send is harmless: the cron re-queues due deliveries. */
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

function subscribed(events: string, type: string) {
  const list = JSON.parse(events) as string[];
  return list.includes("*") || list.includes(type);
}

export interface PublishOptions {
  /** Only this webhook (a test send), whatever it subscribes to. */
  onlyWebhookId?: string;
  isTest?: boolean;
}

/**
 * Publishes an event: writes it with one delivery per matching webhook (outbox), then queues the
 * delivery ids. A repeated idempotency key (within 24 h) answers the first event, sends nothing.
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
  const targets = (await repo.activeWebhooks(db, accountId)).filter((w) =>
    opts.onlyWebhookId
      ? w.id === opts.onlyWebhookId
      : subscribed(w.events, input.type) && matchesFilter(input.entity, w.filter ? (JSON.parse(w.filter) as FilterCondition[]) : null),
  );
  const rows: DeliveryRow[] = targets.map((w) => ({
    id: newId("dlv", now),
    accountId,
    eventId: event.id,
    webhookId: w.id,
    status: "pending",
    attempts: 0,
    nextAttemptAt: now,
    lastAttemptAt: null,
    isTest: opts.isTest ?? false,
    createdAt: now,
    updatedAt: now,
  }));
  try {
    await repo.insertEvent(db, event, rows, !BUILT_IN_NAMES.has(input.type) && !opts.isTest);
  } catch (err) {
    // Two publishes raced on one idempotency key: the unique index let one through; answer it.
    const first = input.idempotencyKey && (await repo.findByIdempotencyKey(db, accountId, input.idempotencyKey));
    if (!first) throw err;
    return answerFirst(db, first);
  }
  await enqueue(deps.queue, rows.map((r) => r.id));
  return { event: toEvent(event), deliveries: rows.map(toDeliverySummary) };
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

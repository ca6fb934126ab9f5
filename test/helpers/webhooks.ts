import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import {
  deliveryId,
  dueAtOf,
  idOfDelivery,
  parseDeliveryId,
  readStoredEvent,
  toHistoryDelivery,
} from "../../src/features/history/stored-event";
import worker from "../../src/index";
import type { Received } from "../setup/received";
import { ADMIN, call } from "./api";

/** A name unique to one test, so its requests at the receiver are its own. */
export const uniqueName = () => `t${crypto.randomUUID().replaceAll("-", "")}`;

export async function createWebhook(accountId: string, body: Record<string, unknown>) {
  const res = await call("POST", "/v1/webhooks", { token: ADMIN, accountId, body: { events: ["*"], ...body } });
  if (res.status !== 201) throw new Error(`webhook create failed: ${JSON.stringify(res.body)}`);
  return res.body as { webhook: { id: string; [k: string]: any }; secret: string };
}

export async function publish(accountId: string, body: Record<string, unknown>) {
  return call("POST", "/v1/events", { token: ADMIN, accountId, body });
}

export async function received(name: string): Promise<Received[]> {
  return (await fetch(`${env.RECEIVER_URL}/__received/${name}`)).json();
}

/** Waits until the receiver has seen at least `count` requests for `name`. */
export async function waitForReceived(name: string, count: number, timeout = 10_000) {
  await expect.poll(async () => (await received(name)).length, { timeout, interval: 50 }).toBeGreaterThanOrEqual(count);
  return received(name);
}

/** A delivery as it was a row of its own (its fields named as the columns were): read from its event's row. */
export async function deliveryRow(id: string) {
  const named = parseDeliveryId(id);
  const alias = named
    ? null
    : await env.DB.prepare("SELECT event_id FROM delivery_aliases WHERE id = ?").bind(id).first<{ event_id: string }>();
  const eventId = named?.eventId ?? alias?.event_id;
  if (!eventId) return null;
  const row = await env.DB.prepare("SELECT * FROM events WHERE id = ?").bind(eventId).first<Record<string, unknown>>();
  if (!row) return null;
  const event = await readStoredEvent(row);
  const index = named ? named.index : event.deliveries.findIndex((d) => d.i === id);
  const d = event.deliveries[index];
  if (!d) return null;
  const at = (delta: number | undefined) => (delta === undefined ? null : event.createdAt + delta);
  const shown = toHistoryDelivery(event.id, event.createdAt, index, d);
  return {
    id,
    account_id: event.accountId,
    event_id: event.id,
    webhook_id: d.w,
    status: d.s,
    attempts: d.n,
    next_attempt_at: shown.nextAttemptAt,
    last_attempt_at: shown.lastAttemptAt,
    slot_at: d.s === "pending" ? at(d.o) : null,
    lease_until: at(d.k),
    is_test: d.t === 1 ? 1 : 0,
    created_at: shown.createdAt,
    updated_at: shown.updatedAt,
  } as Record<string, any>;
}

/** Every delivery of the account's events (their fields as `deliveryRow` names them), oldest event first. */
export async function deliveriesOfAccount(accountId: string) {
  const { results } = await env.DB.prepare("SELECT id, deliveries FROM events WHERE account_id = ? ORDER BY id")
    .bind(accountId)
    .all<{ id: string; deliveries: string }>();
  const ids = results.flatMap((r) =>
    (JSON.parse(r.deliveries) as { i?: string }[]).map((d, i) => d.i ?? deliveryId(r.id, i)),
  );
  return (await Promise.all(ids.map(deliveryRow))).filter((d): d is Record<string, any> => d !== null);
}

/** The attempts of an event (unpacked), as the history shows them, with their delivery's id. */
export async function attemptsOfEvent(eventId: string) {
  const row = await env.DB.prepare("SELECT * FROM events WHERE id = ?").bind(eventId).first<Record<string, unknown>>();
  if (!row) return [];
  const event = await readStoredEvent(row);
  return event.attempts.map((t) => ({
    ...t,
    delivery_id: idOfDelivery(event.id, t.d, event.deliveries[t.d] ?? { w: "", s: "pending", n: 0 }),
    webhook_id: event.deliveries[t.d]?.w,
    response_body: t.o ?? null,
    request_body: t.b ?? null,
  }));
}

/**
 * Changes a delivery in its event's row as a test needs it (a time moved by hand, a status):
 * times absolute, keys as `deliveryRow` names them; the event's due time follows.
 */
export async function setDelivery(
  id: string,
  fields: { next_attempt_at?: number | null; status?: string; slot_at?: number | null; lease_until?: number | null },
) {
  const row = await deliveryRow(id);
  if (!row) throw new Error(`no delivery ${id}`);
  const created = (
    await env.DB.prepare("SELECT created_at FROM events WHERE id = ?")
      .bind(row.event_id)
      .first<{ created_at: number }>()
  )?.created_at as number;
  const rel = (t: number | null | undefined) => (t === null || t === undefined ? null : t - created);
  const patch: Record<string, unknown> = {};
  if ("next_attempt_at" in fields) patch.x = rel(fields.next_attempt_at);
  if ("status" in fields) patch.s = fields.status;
  if ("slot_at" in fields) patch.o = rel(fields.slot_at);
  if ("lease_until" in fields) patch.k = rel(fields.lease_until);
  const event = await readStoredEvent(
    (await env.DB.prepare("SELECT * FROM events WHERE id = ?").bind(row.event_id).first<Record<string, unknown>>()) ??
      {},
  );
  const index = event.deliveries.findIndex((d, i) => idOfDelivery(event.id, i, d) === id);
  const deliveries = event.deliveries.map((d, i) => {
    if (i !== index) return d;
    const next = { ...d, ...patch } as Record<string, unknown>;
    for (const k of Object.keys(next)) if (next[k] === null) delete next[k];
    return next;
  });
  await env.DB.prepare("UPDATE events SET deliveries = ?, due_at = ?, rev = rev + 1 WHERE id = ?")
    .bind(JSON.stringify(deliveries), dueAtOf(created, deliveries as never), row.event_id)
    .run();
}

/**
 * An event written straight into D1 with deliveries as given (what a crash or another version may
 * leave): answers the deliveries' ids.
 */
export async function insertEvent(e: {
  id: string;
  accountId: string;
  type?: string;
  entity?: unknown;
  createdAt?: number;
  deliveries: {
    webhookId: string;
    status?: string;
    attempts?: number;
    nextAttemptAt?: number | null;
    isTest?: boolean;
    tries?: {
      id: string;
      attempt: number;
      succeeded: boolean;
      createdAt: number;
      responseStatus?: number;
      responseBody?: string;
      requestBody?: string;
    }[];
  }[];
}) {
  const createdAt = e.createdAt ?? Date.now();
  const deliveries = e.deliveries.map((d) => {
    const stored: Record<string, unknown> = { w: d.webhookId, s: d.status ?? "pending", n: d.attempts ?? 0 };
    if ((d.status ?? "pending") === "pending") stored.x = (d.nextAttemptAt ?? createdAt) - createdAt;
    const last = d.tries?.at(-1);
    if (last) stored.l = last.createdAt - createdAt;
    if (d.isTest) stored.t = 1;
    return stored;
  });
  const attempts = e.deliveries.flatMap((d, index) =>
    (d.tries ?? []).map((t) => ({
      i: t.id,
      d: index,
      a: t.attempt,
      u: "https://example.com/x",
      h: {},
      s: t.responseStatus ?? (t.succeeded ? 200 : 500),
      r: {},
      o: t.responseBody ?? null,
      ...(t.requestBody === undefined ? {} : { b: t.requestBody }),
      m: 1,
      f: t.succeeded ? null : "HTTP 500",
      k: t.succeeded ? 1 : 0,
      t: t.createdAt - createdAt,
    })),
  );
  await env.DB.prepare(
    "INSERT INTO events (id, account_id, type, entity, created_at, deliveries, attempts, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
  )
    .bind(
      e.id,
      e.accountId,
      e.type ?? "test.event",
      JSON.stringify(e.entity ?? {}),
      createdAt,
      JSON.stringify(deliveries),
      JSON.stringify(attempts),
      dueAtOf(createdAt, deliveries as never),
    )
    .run();
  return deliveries.map((_, i) => deliveryId(e.id, i));
}

/**
 * A queue message for each delivery, consumed now by the real consumer: what a late or repeated
 * message would do, without waiting for the queue to bring one. Answers the consumer's acks and retries.
 */
export async function consumeNow(deliveryIds: string[]) {
  const batch = createMessageBatch(
    "keyhook-deliveries",
    deliveryIds.map((deliveryId, i) => ({ id: `late-${i}`, timestamp: new Date(), attempts: 2, body: { deliveryId } })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  await waitOnExecutionContext(ctx);
  return getQueueResult(batch, ctx);
}

/** Ends a secret rotation's overlap now (time moved by hand: the account's webhooks version too, as any webhook change does). */
export async function endOverlap(accountId: string, webhookId: string) {
  await env.DB.batch([
    env.DB.prepare("UPDATE webhooks SET previous_secret_expires_at = 1 WHERE id = ?").bind(webhookId),
    env.DB.prepare("UPDATE accounts SET webhooks_version = webhooks_version + 1 WHERE id = ?").bind(accountId),
  ]);
}

/** The statements that record an attempt's outcome (a test's D1 refuses them to stand for a crash). */
export const RECORDS_OUTCOME = /json_patch\(d\.value, \(SELECT json_group_object\(p\.key/;

/**
 * A pending delivery added to an event already written (due at `dueAt`, no message: nothing sends
 * it meanwhile); the event is unpacked, as a delivery made pending again unpacks it. Answers its id.
 */
export async function addPendingDelivery(eventId: string, webhookId: string, dueAt: number) {
  const row = await env.DB.prepare("SELECT * FROM events WHERE id = ?").bind(eventId).first<Record<string, unknown>>();
  if (!row) throw new Error(`no event ${eventId}`);
  const event = await readStoredEvent(row);
  const deliveries = [
    ...event.deliveries,
    { w: webhookId, s: "pending" as const, n: 0, x: dueAt - event.createdAt, c: Date.now() - event.createdAt },
  ];
  await env.DB.prepare(
    "UPDATE events SET entity = ?, attempts = ?, packed = NULL, deliveries = ?, due_at = ?, rev = rev + 1 WHERE id = ?",
  )
    .bind(
      event.entity,
      JSON.stringify(event.attempts),
      JSON.stringify(deliveries),
      dueAtOf(event.createdAt, deliveries),
      eventId,
    )
    .run();
  return deliveryId(eventId, deliveries.length - 1);
}

/** An event's row, unpacked (null: not in D1). */
export async function storedEvent(eventId: string) {
  const row = await env.DB.prepare("SELECT * FROM events WHERE id = ?").bind(eventId).first<Record<string, unknown>>();
  return row ? readStoredEvent(row) : null;
}

import {
  applyD1Migrations,
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { compose } from "../src/compose";
import { encodeArchive } from "../src/features/history/archive-object";
import type { HistoryEvent } from "../src/features/history/record";
import { readStoredEvent } from "../src/features/history/stored-event";
import worker from "../src/index";
import { newId } from "../src/lib/encoding";
import { ADMIN, BASE, createAccount } from "./helpers/api";
import { createWebhook, received, uniqueName, waitForReceived } from "./helpers/webhooks";

/**
 * Migration 0015 on a database written by the previous layout (events, deliveries and attempts in
 * tables of their own): hot events, final and pending, an idempotency key, a test send, a replay's
 * late delivery, and an archived event. Everything moves without loss, and the Worker goes on
 * with it: reads it, sends what is pending, retries by hand, archives it.
 */
const db = env.UPGRADE_DB;
const upgraded = { ...env, DB: db, HISTORY_HOT_HOURS: "0" } as Env;
const before = env.TEST_MIGRATIONS.filter((m) => m.name < "0015");

async function copyRow(table: string, id: string) {
  const row = await env.DB.prepare(`SELECT * FROM ${table} WHERE id = ?`).bind(id).first<Record<string, unknown>>();
  if (!row) throw new Error(`no ${table} ${id}`);
  const columns = (await db.prepare(`SELECT name FROM pragma_table_info('${table}')`).all<{ name: string }>()).results
    .map((c) => c.name)
    .filter((c) => c in row);
  await db
    .prepare(`INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`)
    .bind(...columns.map((c) => row[c] ?? null))
    .run();
}

async function get(path: string, accountId: string) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${BASE}${path}`, {
      headers: { authorization: `Bearer ${ADMIN}`, "x-account-id": accountId },
    }) as Request<unknown, IncomingRequestCfProperties>,
    upgraded,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: (await res.json()) as any };
}

describe("migration 0015: events hold their deliveries and attempts", () => {
  it("moves hot, pending, keyed, test and replayed deliveries with their attempts, and the Worker goes on with them", async () => {
    await applyD1Migrations(db, before);
    const account = await createAccount();
    const name = uniqueName();
    const ok = (await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` })).webhook;
    const other = (await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${uniqueName()}` })).webhook;
    await copyRow("accounts", account.id);
    await copyRow("webhooks", ok.id);
    await copyRow("webhooks", other.id);

    const t0 = Date.now() - 600_000;
    const ev = (n: number) => newId("evt", t0 + n * 1000);
    const ids = { final: ev(1), pending: ev(2), keyed: ev(3), test: ev(4) };
    const dl = (at: number) => newId("dlv", at);
    const d = {
      succeeded: dl(t0 + 1000),
      failed: dl(t0 + 1000),
      pending: dl(t0 + 2000),
      keyed: dl(t0 + 3000),
      test: dl(t0 + 4000),
      replayed: dl(t0 + 300_000), // a replay's, made later than its event
    };
    const event = (id: string, at: number, key: string | null = null, type = "order.paid") =>
      db
        .prepare(
          "INSERT INTO events (id, account_id, type, entity, idempotency_key, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(id, account.id, type, JSON.stringify({ id, card: "4242" }), key, at);
    const delivery = (
      id: string,
      eventId: string,
      webhookId: string,
      status: string,
      attempts: number,
      at: number,
      next: number | null,
      isTest = 0,
    ) =>
      db
        .prepare(
          `INSERT INTO deliveries (id, account_id, event_id, webhook_id, status, attempts, next_attempt_at,
             last_attempt_at, is_test, slot_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)`,
        )
        .bind(
          id,
          account.id,
          eventId,
          webhookId,
          status,
          attempts,
          next,
          attempts > 0 ? at + 50 : null,
          isTest,
          at,
          at + 50,
        );
    const attempt = (deliveryId: string, eventId: string, webhookId: string, n: number, at: number, okay: boolean) =>
      db
        .prepare(
          `INSERT INTO attempts (id, account_id, webhook_id, delivery_id, event_id, event_type, attempt, url,
             request_headers, request_body, response_status, response_headers, response_body, duration_ms,
             failure_reason, succeeded, created_at)
           VALUES (?, ?, ?, ?, ?, 'order.paid', ?, 'https://x.test/h', ?, ?, ?, ?, ?, 12, ?, ?, ?)`,
        )
        .bind(
          newId("att", at + 50 * n),
          account.id,
          webhookId,
          deliveryId,
          eventId,
          n,
          JSON.stringify({ "webhook-id": eventId, "x-keyhook-delivery": deliveryId }),
          n === 1 ? '{"legacy":"body"}' : null,
          okay ? 200 : 500,
          JSON.stringify({ "content-type": "text/plain" }),
          okay ? "thanks" : "boom",
          okay ? null : "HTTP 500",
          okay ? 1 : 0,
          at + 50 * n,
        );
    const dueLater = Date.now() + 3_600_000;
    await db.batch([
      event(ids.final, t0 + 1000),
      event(ids.pending, t0 + 2000),
      event(ids.keyed, t0 + 3000, "pay-1"),
      event(ids.test, t0 + 4000, null, "webhook.test"),
      delivery(d.succeeded, ids.final, ok.id, "succeeded", 2, t0 + 1000, null),
      delivery(d.failed, ids.final, other.id, "failed", 1, t0 + 1000, null),
      delivery(d.pending, ids.pending, ok.id, "pending", 1, t0 + 2000, Date.now() - 120_000),
      delivery(d.keyed, ids.keyed, ok.id, "pending", 0, t0 + 3000, dueLater),
      delivery(d.test, ids.test, ok.id, "succeeded", 1, t0 + 4000, null, 1),
      delivery(d.replayed, ids.pending, other.id, "succeeded", 1, t0 + 300_000, null),
      attempt(d.succeeded, ids.final, ok.id, 1, t0 + 1000, false),
      attempt(d.succeeded, ids.final, ok.id, 2, t0 + 1000, true),
      attempt(d.failed, ids.final, other.id, 1, t0 + 1000, false),
      attempt(d.pending, ids.pending, ok.id, 1, t0 + 2000, false),
      attempt(d.test, ids.test, ok.id, 1, t0 + 4000, true),
      attempt(d.replayed, ids.pending, other.id, 1, t0 + 300_000, true),
    ]);
    // An event already archived before the upgrade: in R2, indexed, with its old delivery id.
    const archivedId = newId("evt", t0);
    const archivedDelivery = newId("dlv", t0);
    const archived: HistoryEvent = {
      id: archivedId,
      accountId: account.id,
      type: "order.paid",
      entity: { archived: true },
      createdAt: t0,
      contentDeletedAt: null,
      deliveries: [
        {
          id: archivedDelivery,
          webhookId: ok.id,
          status: "failed",
          attempts: 1,
          nextAttemptAt: null,
          lastAttemptAt: t0 + 40,
          isTest: false,
          createdAt: t0,
          updatedAt: t0 + 40,
          tries: [
            {
              id: newId("att", t0 + 40),
              attempt: 1,
              url: "https://x.test/h",
              requestHeaders: {},
              requestBody: null,
              responseStatus: 500,
              responseHeaders: {},
              responseBody: "boom",
              durationMs: 9,
              failureReason: "HTTP 500",
              succeeded: false,
              createdAt: t0 + 40,
            },
          ],
        },
      ],
    };
    const key = `history/${account.id}/${archivedId}.0.ndjson.gz`;
    const body = await encodeArchive([archived]);
    await env.HISTORY.put(key, body);
    await db
      .prepare(
        `INSERT INTO history_objects (account_id, key, first_event_id, last_event_id, last_attempt_id, webhook_ids,
           events, bytes, archived_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, 1)`,
      )
      .bind(account.id, key, archivedId, archivedId, archived.deliveries[0]?.tries[0]?.id, `["${ok.id}"]`, body.length)
      .run();
    const legacy = {
      deliveries: await db.prepare("SELECT * FROM deliveries ORDER BY id").all<Record<string, any>>(),
      attempts: await db.prepare("SELECT * FROM attempts ORDER BY id").all<Record<string, any>>(),
    };

    await applyD1Migrations(db, env.TEST_MIGRATIONS);

    // Every event, delivery and attempt is there, with its ids, states and times.
    const rows = await db.prepare("SELECT * FROM events ORDER BY id").all<Record<string, unknown>>();
    const events = await Promise.all(rows.results.map(readStoredEvent));
    expect(events.map((e) => e.id)).toEqual([ids.final, ids.pending, ids.keyed, ids.test]);
    const moved = events.flatMap((e) =>
      e.deliveries.map((x) => ({
        id: x.i,
        event_id: e.id,
        webhook_id: x.w,
        status: x.s,
        attempts: x.n,
        last_attempt_at: x.l === undefined ? null : e.createdAt + x.l,
        next_attempt_at: x.x === undefined ? null : e.createdAt + x.x,
        created_at: e.createdAt + (x.c ?? 0),
        is_test: x.t ?? 0,
      })),
    );
    expect(moved.sort((a, b) => ((a.id ?? "") < (b.id ?? "") ? -1 : 1))).toEqual(
      legacy.deliveries.results.map((r) => ({
        id: r.id,
        event_id: r.event_id,
        webhook_id: r.webhook_id,
        status: r.status,
        attempts: r.attempts,
        last_attempt_at: r.last_attempt_at,
        next_attempt_at: r.status === "pending" ? r.next_attempt_at : null,
        created_at: r.created_at,
        is_test: r.is_test,
      })),
    );
    const movedAttempts = events.flatMap((e) =>
      e.attempts.map((t) => ({
        id: t.i,
        delivery_id: e.deliveries[t.d]?.i,
        attempt: t.a,
        succeeded: t.k,
        response_status: t.s,
        response_body: t.o,
        request_body: t.b ?? null,
        created_at: e.createdAt + t.t,
      })),
    );
    expect(movedAttempts.sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual(
      legacy.attempts.results.map((r) => ({
        id: r.id,
        delivery_id: r.delivery_id,
        attempt: r.attempt,
        succeeded: r.succeeded,
        response_status: r.response_status,
        response_body: r.response_body,
        request_body: r.request_body,
        created_at: r.created_at,
      })),
    );
    const pendingRow = rows.results.find((r) => r.id === ids.pending);
    expect(pendingRow?.due_at).toBe(legacy.deliveries.results.find((r) => r.id === d.pending)?.next_attempt_at);
    expect(rows.results.find((r) => r.id === ids.keyed)).toMatchObject({ idempotency_key: "pay-1", due_at: dueLater });
    expect((await db.prepare("SELECT count(*) AS n FROM delivery_aliases").first<{ n: number }>())?.n).toBe(6);
    for (const gone of ["deliveries", "attempts"]) {
      const table = await db.prepare("SELECT name FROM sqlite_master WHERE name = ?").bind(gone).first();
      expect(table).toBeNull();
    }
    const webhook = await db.prepare("SELECT * FROM webhooks WHERE id = ?").bind(ok.id).first<Record<string, any>>();
    expect(webhook).toMatchObject({ last_attempt_succeeded: 1, last_attempt_status: 200 });

    // The event log reads them as before, the archived one too.
    const detail = await get(`/v1/events/${ids.final}`, account.id);
    expect(detail.status).toBe(200);
    const shown = detail.body.event.deliveries;
    expect(shown.map((x: any) => [x.id, x.status, x.attempts.length]).sort()).toEqual(
      [
        [d.succeeded, "succeeded", 2],
        [d.failed, "failed", 1],
      ].sort(),
    );
    const twice = shown.find((x: any) => x.id === d.succeeded);
    expect(twice.attempts[0].requestBody).toBe('{"legacy":"body"}');
    expect((await get(`/v1/events/${archivedId}`, account.id)).body.event.deliveries[0].id).toBe(archivedDelivery);
    const attempts = await get(`/v1/webhooks/${ok.id}/attempts?limit=100`, account.id);
    expect(attempts.body.attempts.length).toBe(5);

    // A pending delivery from before is sent by its old id, once.
    const batch = createMessageBatch("keyhook-deliveries", [
      { id: "m1", timestamp: new Date(), attempts: 1, body: { deliveryId: d.pending } },
      { id: "m2", timestamp: new Date(), attempts: 1, body: { deliveryId: d.pending } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, upgraded, ctx);
    await waitOnExecutionContext(ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks.sort()).toEqual(["m1", "m2"]);
    await waitForReceived(name, 1);
    expect(await received(name)).toHaveLength(1);
    const after = await readStoredEvent(
      (await db.prepare("SELECT * FROM events WHERE id = ?").bind(ids.pending).first<Record<string, unknown>>()) ?? {},
    );
    expect(after.deliveries.find((x) => x.i === d.pending)).toMatchObject({ s: "succeeded", n: 2 });

    // Archived from the new layout, with every old id; the archive reads both.
    const moving = compose(upgraded, { waitUntil: () => {}, requestId: "upgrade" });
    await moving.history.archive();
    const left = await db.prepare("SELECT id FROM events").all<{ id: string }>();
    expect(left.results.map((r) => r.id)).toEqual([ids.keyed]); // its idempotency key still answers
    expect((await get(`/v1/events/${ids.pending}`, account.id)).body.event.deliveries.map((x: any) => x.id)).toEqual([
      d.pending,
      d.replayed,
    ]);
    const log = await get(`/v1/events?limit=100&since=${new Date(t0 - 1000).toISOString()}`, account.id);
    expect(log.body.events.map((e: any) => e.id).sort()).toEqual(
      [archivedId, ids.final, ids.pending, ids.keyed, ids.test].sort(),
    );
  });
});

import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { compose } from "../src/compose";
import { FINAL_FROM } from "../src/features/deliveries/delivery-sql";
import { commitOutcomes } from "../src/features/deliveries/group-commit";
import { firstAttemptLeaseMs } from "../src/features/deliveries/timings";
import worker from "../src/index";
import { newId } from "../src/lib/encoding";
import { ADMIN, BASE, call, createAccount, createKey } from "./helpers/api";
import { countingEnv } from "./helpers/counting-env";
import {
  createWebhook,
  deliveryRow,
  insertEvent,
  RECORDS_OUTCOME,
  received,
  setDelivery,
  uniqueName,
  waitForReceived,
} from "./helpers/webhooks";

/**
 * Writes deliveries (each with its own event) straight into D1, unqueued: only the test's own
 * batches send them. Answers their ids, in order.
 */
async function outbox(accountId: string, deliveries: { webhookId: string; status?: string; due?: number }[]) {
  const now = Date.now();
  const ids: string[] = [];
  for (const d of deliveries) {
    const [id] = await insertEvent({
      id: newId("evt", now),
      accountId,
      type: "order.paid",
      entity: { n: 1 },
      createdAt: now,
      deliveries: [
        {
          webhookId: d.webhookId,
          status: d.status ?? "pending",
          attempts: d.status === "succeeded" ? 1 : 0,
          nextAttemptAt: d.due ?? now,
        },
      ],
    });
    ids.push(id as string);
  }
  return ids;
}

const message = (id: string, body: unknown) => ({ id, timestamp: new Date(), attempts: 1, body });

async function consume(messages: ReturnType<typeof message>[], useEnv: Env = env) {
  const batch = createMessageBatch("keyhook-deliveries", messages);
  const ctx = createExecutionContext();
  await worker.queue(batch, useEnv, ctx);
  return getQueueResult(batch, ctx);
}

describe("the queue consumer works a batch as a batch", () => {
  it("due, not-due, succeeded, deleted-webhook, duplicate and poison messages: each acked or retried as before, in 2 D1 round trips", async () => {
    const account = await createAccount();
    const names = { ok: uniqueName(), failing: uniqueName(), deleted: uniqueName() };
    const ok = (await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${names.ok}` })).webhook;
    const failing = (await createWebhook(account.id, { url: `${env.RECEIVER_URL}/status/500/${names.failing}` }))
      .webhook;
    const deleted = (await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${names.deleted}` })).webhook;
    await call("DELETE", `/v1/webhooks/${deleted.id}`, { token: ADMIN, accountId: account.id });
    const [due, failingId, later, done, gone] = await outbox(account.id, [
      { webhookId: ok.id },
      { webhookId: failing.id },
      { webhookId: ok.id, due: Date.now() + 3_600_000 },
      { webhookId: ok.id, status: "succeeded" },
      { webhookId: deleted.id },
    ]);
    const ids = { due: due!, failing: failingId!, later: later!, done: done!, gone: gone! };
    const { env: counted, counts } = countingEnv();
    const result = await consume(
      [
        message("due", { deliveryId: ids.due }),
        message("due-again", { deliveryId: ids.due }),
        message("failing", { deliveryId: ids.failing }),
        message("later", { deliveryId: ids.later }),
        message("done", { deliveryId: ids.done }),
        message("gone", { deliveryId: ids.gone }),
        message("poison", { nope: true }),
      ],
      counted,
    );
    expect(result.explicitAcks.sort()).toEqual(["done", "due", "due-again", "gone", "later", "poison"]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["failing"]);
    expect(await received(names.ok)).toHaveLength(1); // the due one, once; not the later or the finished one
    expect(await received(names.failing)).toHaveLength(1);
    expect(await received(names.deleted)).toHaveLength(0);
    expect(await deliveryRow(ids.due)).toMatchObject({ status: "succeeded", attempts: 1 });
    const retried = await deliveryRow(ids.failing);
    expect(retried).toMatchObject({ status: "pending", attempts: 1 });
    expect(retried!.next_attempt_at - retried!.last_attempt_at).toBeGreaterThanOrEqual(900); // "1,1,1" in tests
    expect(await deliveryRow(ids.later)).toMatchObject({ status: "pending", attempts: 0 });
    expect(await deliveryRow(ids.gone)).toMatchObject({ status: "failed", attempts: 0 });
    // Claim and load in one round trip, every outcome (and the dropped one) in one more.
    expect(counts.d1RoundTrips).toBe(2);
  });

  it("the number of D1 round trips does not grow with the batch", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    const trips: number[] = [];
    for (const size of [3, 40]) {
      const ids = await outbox(
        account.id,
        Array.from({ length: size }, () => ({ webhookId: webhook.id })),
      );
      const { env: counted, counts } = countingEnv();
      const result = await consume(
        ids.map((id) => message(id, { deliveryId: id })),
        counted,
      );
      expect(result.explicitAcks).toHaveLength(size);
      trips.push(counts.d1RoundTrips);
    }
    expect(await received(name)).toHaveLength(43);
    // One claim + load, then one record per group of outcomes that came back together (usually one).
    expect(trips[0]).toBeLessThanOrEqual(3);
    expect(trips[1]).toBeLessThanOrEqual(3);
  });

  it("two consumers given the same batch send each delivery once", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    const ids = await outbox(
      account.id,
      Array.from({ length: 10 }, () => ({ webhookId: webhook.id })),
    );
    const messages = ids.map((id) => message(id, { deliveryId: id }));
    const [a, b] = await Promise.all([consume(messages), consume(messages)]);
    expect(a.explicitAcks.length + a.retryMessages.length).toBe(10);
    expect(b.explicitAcks.length + b.retryMessages.length).toBe(10);
    const got = await received(name);
    expect(got).toHaveLength(10);
    expect(new Set(got.map((r) => r.headers["x-keyhook-delivery"]))).toEqual(new Set(ids));
    for (const id of ids) expect(await deliveryRow(id)).toMatchObject({ status: "succeeded", attempts: 1 });
  });

  it("a receiver that hangs does not hold back the others' records", async () => {
    const account = await createAccount();
    const fast = uniqueName();
    const slow = uniqueName();
    const quick = (await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${fast}` })).webhook;
    const hanging = (await createWebhook(account.id, { url: `${env.RECEIVER_URL}/hang/4000/${slow}` })).webhook;
    const all = await outbox(account.id, [
      ...[1, 2, 3].map(() => ({ webhookId: quick.id })),
      { webhookId: hanging.id },
    ]);
    const fastIds = all.slice(0, 3);
    const slowId = all[3]!;
    const started = Date.now();
    let finished = 0;
    const consumer = consume([...fastIds, slowId].map((id) => message(id, { deliveryId: id }))).then((r) => {
      finished = Date.now();
      return r;
    });
    // The fast ones are recorded long before the hanging one times out (1.5 s in tests).
    await expect
      .poll(async () => (await Promise.all(fastIds.map(deliveryRow))).map((r) => r?.status), { timeout: 1000 })
      .toEqual(["succeeded", "succeeded", "succeeded"]);
    expect(finished).toBe(0);
    expect((await deliveryRow(slowId))?.attempts).toBe(0);
    const result = await consumer;
    expect(finished - started).toBeGreaterThanOrEqual(1400);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual([slowId]);
    expect(await deliveryRow(slowId)).toMatchObject({ status: "pending", attempts: 1 });
  });
});

describe("the first attempt is sent by the publishing request", () => {
  it("arrives without the queue; a message for it afterwards (a duplicate) finds it done and sends nothing", async () => {
    const account = await createAccount();
    const { key } = await createKey(account.id, { scopes: ["events:write"] });
    const name = uniqueName();
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    const started = Date.now();
    const res = await call("POST", "/v1/events", { apiKey: key, body: { type: "order.paid", entity: { id: 1 } } });
    expect(res.status).toBe(202);
    const [req] = await waitForReceived(name, 1);
    expect(req!.at - started).toBeLessThan(1000);
    const id = res.body.deliveries[0].id;
    await expect.poll(async () => (await deliveryRow(id))?.status).toBe("succeeded");
    const result = await consume([message("late", { deliveryId: id })]);
    expect(result.explicitAcks).toEqual(["late"]);
    expect(await received(name)).toHaveLength(1);
  });

  it("a first attempt sent but not recorded: queued again for after its lease, and sent again with the same webhook-id", async () => {
    const account = await createAccount();
    const name = uniqueName();
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    const sent: { body: unknown; delaySeconds?: number }[] = [];
    const queue = {
      sendBatch: async (msgs: { body: unknown }[], opts?: { delaySeconds?: number }) =>
        void sent.push(...msgs.map((m) => ({ ...m, ...opts }))),
      send: async () => {},
    };
    // D1 fails after the receiver got the POST, before the outcome is written.
    const recordsOutcome = (statements: D1PreparedStatement[]) =>
      statements.some((st) => RECORDS_OUTCOME.test((st as unknown as { statement: string }).statement));
    const dyingDb = new Proxy(env.DB, {
      get: (target, prop) =>
        prop === "batch"
          ? (statements: D1PreparedStatement[]) =>
              recordsOutcome(statements) ? Promise.reject(new Error("the Worker stopped")) : target.batch(statements)
          : (Reflect.get(target, prop).bind?.(target) ?? Reflect.get(target, prop)),
    });
    const ctx = createExecutionContext();
    const req = new Request(`${BASE}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "x-account-id": account.id, "content-type": "application/json" },
      body: JSON.stringify({ type: "order.paid", entity: { id: 2 } }),
    });
    const res = await worker.fetch(
      req as Request<unknown, IncomingRequestCfProperties>,
      { ...env, DB: dyingDb, DELIVERIES: queue as unknown as Queue },
      ctx,
    );
    expect(res.status).toBe(202);
    expect(sent).toEqual([]); // nothing queued for a first attempt
    await waitOnExecutionContext(ctx);
    const { event, deliveries } = (await res.json()) as { event: { id: string }; deliveries: { id: string }[] };
    const id = deliveries[0]!.id;
    // The lease: the 1.5 s timeout, the commit's linger and one D1 call (D1_TIMEOUT_MS), rounded up.
    const lease = firstAttemptLeaseMs({ timeoutMs: 1500, d1TimeoutMs: Number(env.D1_TIMEOUT_MS) });
    expect(sent).toEqual([{ body: { deliveryId: id }, delaySeconds: Math.ceil(lease / 1000) }]);
    expect(await received(name)).toHaveLength(1);
    const row = await deliveryRow(id);
    expect(row).toMatchObject({ status: "pending", attempts: 0 });
    expect(row!.next_attempt_at - Date.now()).toBeGreaterThan(9_000); // still leased to the first attempt
    // Arriving early, the message leaves it alone; after the lease (time moved on) it claims and sends.
    expect((await consume([message("early", sent[0]!.body)])).explicitAcks).toEqual(["early"]);
    expect(await received(name)).toHaveLength(1);
    await setDelivery(id, { next_attempt_at: Date.now() });
    expect((await consume([message("delayed", sent[0]!.body)])).explicitAcks).toEqual(["delayed"]);
    const reqs = await waitForReceived(name, 2);
    expect(reqs.map((r) => r.headers["webhook-id"])).toEqual([event.id, event.id]);
    expect(await deliveryRow(id)).toMatchObject({ status: "succeeded", attempts: 1 });
  });

  it("killed during a first attempt (nothing recorded, nothing queued): the cron sends it after its lease, with the same webhook-id", async () => {
    const account = await createAccount();
    const name = uniqueName();
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    // What a killed invocation leaves: the POST may have gone out, but no outcome was written and
    // no message was queued (D1 refuses the record, the queue takes nothing).
    const nothingRecorded = new Proxy(env.DB, {
      get: (target, prop) =>
        prop === "batch"
          ? (statements: D1PreparedStatement[]) =>
              statements.some((st) => RECORDS_OUTCOME.test((st as unknown as { statement: string }).statement))
                ? Promise.reject(new Error("killed"))
                : target.batch(statements)
          : (Reflect.get(target, prop).bind?.(target) ?? Reflect.get(target, prop)),
    });
    const nothingQueued = { sendBatch: async () => {}, send: async () => {} } as unknown as Queue;
    const ctx = createExecutionContext();
    const req = new Request(`${BASE}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "x-account-id": account.id, "content-type": "application/json" },
      body: JSON.stringify({ type: "order.paid", entity: { id: 4 } }),
    });
    const res = await worker.fetch(
      req as Request<unknown, IncomingRequestCfProperties>,
      { ...env, DB: nothingRecorded, DELIVERIES: nothingQueued },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    const { event, deliveries } = (await res.json()) as { event: { id: string }; deliveries: { id: string }[] };
    const id = deliveries[0]!.id;
    expect(await received(name)).toHaveLength(1);
    const cron = () =>
      worker.scheduled(
        createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }),
        env,
        createExecutionContext(),
      );
    await cron(); // within its lease: left alone
    await new Promise((r) => setTimeout(r, 300));
    expect(await deliveryRow(id)).toMatchObject({ status: "pending", attempts: 0 });
    expect(await received(name)).toHaveLength(1);
    // The lease long over: the cron re-queues it and the consumer sends it again.
    await setDelivery(id, { next_attempt_at: Date.now() - 60_000 });
    await cron();
    const reqs = await waitForReceived(name, 2);
    expect(reqs.map((r) => r.headers["webhook-id"])).toEqual([event.id, event.id]);
    await expect.poll(async () => (await deliveryRow(id))?.status).toBe("succeeded");
  });

  it("a failed first attempt is queued again after the schedule's delay", async () => {
    const account = await createAccount();
    const name = uniqueName();
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/fail/1/${name}` });
    const res = await call("POST", "/v1/events", {
      token: ADMIN,
      accountId: account.id,
      body: { type: "order.paid", entity: {} },
    });
    const reqs = await waitForReceived(name, 2, 8000);
    expect(reqs[1]!.at - reqs[0]!.at).toBeGreaterThanOrEqual(800); // "1,1,1" in tests, ±10 %
    expect(reqs[1]!.at - reqs[0]!.at).toBeLessThan(5000); // not the 12 s of the delayed message
    await expect.poll(async () => (await deliveryRow(res.body.deliveries[0].id))?.status).toBe("succeeded");
  });
});

describe("what a delivery costs in D1", () => {
  it("publish + first attempts to 5 webhooks: 3 rows written for the event, 2 for its 5 outcomes, no webhook write", async () => {
    const account = await createAccount();
    const { key } = await createKey(account.id, { scopes: ["events:write"] });
    for (let i = 0; i < 5; i++) await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${uniqueName()}` });
    const publishOnce = async () => {
      const { env: counted, counts } = countingEnv();
      const ctx = createExecutionContext();
      const req = new Request(`${BASE}/v1/events`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json" },
        body: JSON.stringify({ type: "order.paid", entity: { id: 3 } }),
      });
      const res = await worker.fetch(req as Request<unknown, IncomingRequestCfProperties>, counted, ctx);
      expect(res.status).toBe(202);
      const publish = { ...counts };
      await waitOnExecutionContext(ctx);
      return { publish, total: { ...counts } };
    };
    await publishOnce(); // warms this isolate's copy of the account's webhooks
    const { publish, total } = await publishOnce();
    // The request: the event with its 5 deliveries in one row — the key from the edge cache, the
    // webhooks from this isolate's copy (the write itself checks the copy is current).
    expect(publish.d1RoundTrips).toBe(1);
    // The event row, its key's index entry and its due-index entry (the first attempts' lease).
    expect(publish.d1RowsWritten).toBeLessThanOrEqual(3 + 1); // +1: the key's first lastUsedAt
    // The first attempts: every delivery's state and attempt, and the event packed, in one write of
    // its row (written again after the others: a final row, and its key's index entry) in one more
    // round trip; no webhook row (its latest attempt is a minute fresh).
    const afterOutbox = total.d1RowsWritten - publish.d1RowsWritten;
    expect(afterOutbox).toBe(2);
    expect(total.d1RoundTrips - publish.d1RoundTrips).toBe(1);
    const row = await env.DB.prepare(
      "SELECT entity, attempts, packed, due_at FROM events WHERE account_id = ? ORDER BY id DESC",
    )
      .bind(account.id)
      .first<Record<string, unknown>>();
    expect(row).toMatchObject({ entity: null, attempts: null, due_at: null });
    expect(row?.packed).not.toBeNull();
    // In flight, an event sits below the final rows; final, after every row (`FINAL_FROM`).
    const places = await env.DB.prepare(
      "SELECT rowid AS at, packed IS NOT NULL AS final FROM events WHERE account_id = ?",
    )
      .bind(account.id)
      .all<{ at: number; final: number }>();
    expect(places.results.filter((p) => p.final === 1).length).toBeGreaterThanOrEqual(2);
    for (const p of places.results) expect(p.at >= FINAL_FROM).toBe(p.final === 1);
  });
});

describe("outcomes are committed together", () => {
  it("groups that arrive while a write is in flight are written by the next one: 10 runs, 2 D1 round trips", async () => {
    const account = await createAccount();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${uniqueName()}` });
    const ids = await outbox(
      account.id,
      Array.from({ length: 10 }, () => ({ webhookId: webhook.id })),
    );
    const { env: counted, counts } = countingEnv();
    const { db, now } = compose(counted, { waitUntil: () => {}, requestId: "group-commit" }).platform;
    // Ten runs hand over their groups at once (here: deliveries to mark failed, the smallest group):
    // the first is written alone, at once; the nine that came while it was in flight, together.
    await Promise.all(ids.map((id) => commitOutcomes({ db, now }, [], [id])));
    expect(counts.d1Batches).toBe(2);
    for (const id of ids) expect((await deliveryRow(id))?.status).toBe("failed");
    // A write that fails fails every group in it, each told so (its deliveries are then retried).
    const $client = {
      prepare: () => ({ bind: () => ({}) }),
      batch: () => Promise.reject(new Error("D1 went away")),
    };
    const broken = { db: { $client } as never, now };
    const results = await Promise.allSettled(ids.slice(0, 3).map((id) => commitOutcomes(broken, [], [id])));
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
  });
});

describe("concurrent publishes share their outbox write", () => {
  it("writes arriving while one is in flight go in the next batch; a deleted account's gets 404 in it, an idempotency key goes alone", async () => {
    const live = await createAccount();
    const gone = await createAccount();
    for (const a of [live, gone]) await createWebhook(a.id, { url: `${env.RECEIVER_URL}/ok/${uniqueName()}` });
    const { env: counted, counts, reset } = countingEnv();
    const { events, platform } = compose(counted, { waitUntil: () => {}, requestId: "shared-outbox" });
    const versionOf = async (id: string) =>
      (await env.DB.prepare("SELECT webhooks_version AS v FROM accounts WHERE id = ?").bind(id).first<{ v: number }>())
        ?.v ?? 0; // a deleted account's row may be gone
    const scope = async (accountId: string) => ({ accountId, webhooksVersion: await versionOf(accountId) });
    const publish = (s: { accountId: string; webhooksVersion: number }, n: number, idempotencyKey?: string) =>
      events.publish(s, { type: "order.paid", entity: { n }, idempotencyKey }, { send: "queue" });
    await publish(await scope(gone.id), 0);
    expect((await call("DELETE", `/v1/accounts/${gone.id}`, { token: ADMIN })).status).toBe(200);
    const liveScope = await scope(live.id);
    const goneScope = await scope(gone.id);
    // This isolate's copy of each account's webhooks, so that the publishes below reach the write together.
    await publish(liveScope, 0);
    await publish(goneScope, 0).catch(() => {});
    reset();

    const settled = await Promise.allSettled([
      ...[1, 2, 3, 4].map((n) => publish(liveScope, n)),
      publish(goneScope, 5),
    ]);
    // The first went at once, alone; the four that came while it was in flight, in one more batch;
    // the deleted account's write, refused in it, then read the account once more (to tell a deleted
    // account from webhooks changed since its copy) and found it gone.
    expect(counts.d1Batches).toBe(3);
    const written = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    expect(written.map((w) => w.event.entity)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    const refused = settled[4] as PromiseRejectedResult;
    expect(refused.status).toBe("rejected");
    expect(refused.reason.code).toBe("not_found");
    for (const w of written) {
      const row = await env.DB.prepare("SELECT json_array_length(deliveries) AS n FROM events WHERE id = ?")
        .bind(w.event.id)
        .first<{ n: number }>();
      expect(row?.n).toBe(1);
    }
    expect(
      await env.DB.prepare("SELECT count(*) AS n FROM events WHERE account_id = ? AND created_at >= ?")
        .bind(gone.id, platform.now() - 60_000)
        .first<{ n: number }>(),
    ).toEqual({ n: 0 }); // its events went with it, and none was written after

    // A write that can conflict (an idempotency key) is not shared: its own batch, and a repeat answers the first.
    reset();
    const [a, b] = await Promise.all([publish(liveScope, 6, "once"), publish(liveScope, 7)]);
    expect(counts.d1Batches).toBe(2);
    expect((await publish(liveScope, 8, "once")).event.id).toBe(a.event.id);
    expect(b.event.entity).toEqual({ n: 7 });

    // Nor is a large entity (a shared batch stays small): two small writes share, the large one is alone.
    reset();
    const large = events.publish(
      liveScope,
      { type: "order.paid", entity: { pad: "x".repeat(20_000) } },
      { send: "queue" },
    );
    await Promise.all([publish(liveScope, 9), publish(liveScope, 10), large]);
    expect(counts.d1Batches).toBe(3); // shared: 2 (the first at once, the second after it); the large one: 1
  });
});

describe("a publish plans with this isolate's copy of the webhooks", () => {
  it("writes once when the copy is current; a stale copy is caught by the write itself and read again", async () => {
    const account = await createAccount();
    const name = uniqueName();
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    const { env: counted, counts, reset } = countingEnv();
    const { events } = compose(counted, { waitUntil: () => {}, requestId: "plan" });
    // No version from the caller (a credential answered from the edge cache): this isolate's copy, checked by the write.
    const scope = { accountId: account.id, webhooksVersion: null };
    const publish = (n: number) => events.publish(scope, { type: "order.paid", entity: { n } }, { send: "queue" });
    await publish(1); // reads the webhooks and their version, then writes
    reset();
    expect((await publish(2)).deliveries).toHaveLength(1);
    expect(counts.d1RoundTrips).toBe(1); // the outbox write alone
    // Another isolate changed the account's webhooks: the version moved, this copy is stale.
    await env.DB.prepare("UPDATE accounts SET webhooks_version = webhooks_version + 1 WHERE id = ?")
      .bind(account.id)
      .run();
    reset();
    const third = await publish(3);
    expect(third.deliveries).toHaveLength(1);
    expect(counts.d1RoundTrips).toBe(3); // the refused write, the webhooks read again, the write
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE account_id = ?")
      .bind(account.id)
      .first<{ n: number }>();
    expect(rows?.n).toBe(3); // the refused write wrote nothing
  });
});

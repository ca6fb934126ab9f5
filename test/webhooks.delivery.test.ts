import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { nextRetryDelay, parseRetryAfter } from "../src/features/deliveries/retry";
import worker from "../src/index";
import { idFloor, newId } from "../src/lib/encoding";
import { ADMIN, call, createAccount, createKey } from "./helpers/api";
import {
  consumeNow,
  createWebhook,
  deliveriesOfAccount,
  deliveryRow,
  endOverlap,
  insertEvent,
  publish,
  RECORDS_OUTCOME,
  received,
  setDelivery,
  uniqueName,
  waitForReceived,
} from "./helpers/webhooks";

const attemptsOf = async (accountId: string, webhookId: string) =>
  (await call("GET", `/v1/webhooks/${webhookId}/attempts`, { token: ADMIN, accountId })).body.attempts as any[];

describe("retry schedule", () => {
  it("follows the delays with ±10 % jitter, then stops", () => {
    const delays = [5, 300, 1800, 7200, 18000, 36000, 36000];
    expect(delays.map((_, i) => nextRetryDelay(i + 1, delays, null, () => 0.5))).toEqual(delays);
    expect(nextRetryDelay(2, delays, null, () => 0)).toBe(270);
    expect(nextRetryDelay(2, delays, null, () => 1)).toBe(330);
    expect(nextRetryDelay(8, delays)).toBeNull();
    expect(delays.reduce((a, b) => a + b, 0) / 3600).toBeCloseTo(27.7, 0); // about a day in all
  });

  it("honours Retry-After when longer, within 12 h", () => {
    expect(nextRetryDelay(1, [5], 120, () => 0.5)).toBe(120);
    expect(nextRetryDelay(1, [300], 10, () => 0.5)).toBe(300);
    expect(nextRetryDelay(1, [5], 10 ** 7, () => 0.5)).toBe(43_200);
    expect(parseRetryAfter("30", 0)).toBe(30);
    expect(parseRetryAfter(new Date(60_000).toUTCString(), 0)).toBe(60);
    expect(parseRetryAfter("soon", 0)).toBeNull();
  });
});

describe("delivery", () => {
  it("retries a failing receiver with the same webhook-id until it succeeds, recording every attempt", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook, secret } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/fail/2/${name}` });
    const res = await publish(account.id, { type: "issue.resolved", entity: { id: 7 } });
    const reqs = await waitForReceived(name, 3, 15_000);
    expect(new Set(reqs.map((r) => r.headers["webhook-id"]))).toEqual(new Set([res.body.event.id]));
    expect(new Set(reqs.map((r) => r.body)).size).toBe(1); // the same bytes every time
    for (const r of reqs) expect(() => new Webhook(secret).verify(r.body, r.headers)).not.toThrow();
    await expect.poll(async () => (await deliveryRow(res.body.deliveries[0].id))?.status).toBe("succeeded");
    const attempts = await attemptsOf(account.id, webhook.id);
    expect(attempts.map((a) => [a.attempt, a.responseStatus, a.succeeded])).toEqual([
      [3, 200, true],
      [2, 500, false],
      [1, 500, false],
    ]);
    expect(attempts[1]).toMatchObject({ failureReason: "HTTP 500", responseBody: "boom", eventType: "issue.resolved" });
    expect(attempts[0].requestHeaders["webhook-id"]).toBe(res.body.event.id);
    expect(JSON.parse(attempts[0].requestBody).entity).toEqual({ id: 7 });
    expect(attempts[0].durationMs).toBeGreaterThanOrEqual(0);
  }, 20_000);

  it("after the last retry the delivery is failed, and stays retryable by hand", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/status/500/${name}` });
    const res = await publish(account.id, { type: "a.b", entity: {} });
    const id = res.body.deliveries[0].id;
    await waitForReceived(name, 4, 15_000); // 1 + 3 retries ("1,1,1" in tests)
    await expect.poll(async () => (await deliveryRow(id))?.status, { timeout: 5000 }).toBe("failed");
    expect((await deliveryRow(id))!.attempts).toBe(4);
    // A late or repeated message for it sends nothing: the consumer claims only pending deliveries.
    expect((await consumeNow([id])).explicitAcks).toHaveLength(1);
    expect(await received(name)).toHaveLength(4);
    // Fix the receiver, then retry by hand: same webhook-id.
    await call("PATCH", `/v1/webhooks/${webhook.id}`, {
      token: ADMIN,
      accountId: account.id,
      body: { url: `${env.RECEIVER_URL}/ok/${name}` },
    });
    const retry = await call("POST", `/v1/deliveries/${id}/retry`, { token: ADMIN, accountId: account.id });
    expect(retry.status).toBe(202);
    const all = await waitForReceived(name, 5);
    expect(all[4]!.headers["webhook-id"]).toBe(res.body.event.id);
    await expect.poll(async () => (await deliveryRow(id))?.status).toBe("succeeded");
  }, 25_000);

  it("410 disables the webhook at once, audits it and emits webhook.disabled", async () => {
    const account = await createAccount();
    const gone = uniqueName();
    const watcher = uniqueName();
    const { webhook } = await createWebhook(account.id, {
      url: `${env.RECEIVER_URL}/status/410/${gone}`,
      events: ["a.b"],
    });
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${watcher}`, events: ["webhook.disabled"] });
    await publish(account.id, { type: "a.b", entity: {} });
    const [notice] = await waitForReceived(watcher, 1);
    expect(JSON.parse(notice!.body)).toMatchObject({
      event: "webhook.disabled",
      entity: { id: webhook.id, reason: expect.stringContaining("410") },
    });
    const got = await call("GET", `/v1/webhooks/${webhook.id}`, { token: ADMIN, accountId: account.id });
    expect(got.body.webhook).toMatchObject({ status: "disabled", disabledReason: expect.stringContaining("410") });
    expect(await received(gone)).toHaveLength(1);
    const log = await call("GET", `/v1/audit-log?action=webhook.disabled`, { token: ADMIN, accountId: account.id });
    expect(log.body.entries[0]).toMatchObject({ actor: { type: "system" }, target: { id: webhook.id } });
  });

  it("a timeout, a redirect and a dropped connection are failures with their reason", async () => {
    const account = await createAccount();
    const cases = [
      { path: "hang/4000", reason: /timeout after 1500 ms/ },
      { path: "redirect", reason: /redirect 301 not followed/ },
      { path: "drop", reason: /connection error/ },
    ];
    for (const c of cases) {
      const name = uniqueName();
      const { webhook } = await createWebhook(account.id, {
        url: `${env.RECEIVER_URL}/${c.path}/${name}`,
        events: [`t.${name}`],
      });
      await publish(account.id, { type: `t.${name}`, entity: {} });
      await expect
        .poll(async () => (await attemptsOf(account.id, webhook.id)).length, { timeout: 8000 })
        .toBeGreaterThanOrEqual(1);
      const [first] = (await attemptsOf(account.id, webhook.id)).slice(-1);
      expect(first.failureReason).toMatch(c.reason);
      expect(first.succeeded).toBe(false);
      if (c.path === "redirect") expect((await received("elsewhere")).length).toBe(0);
    }
  }, 30_000);

  it("503 with Retry-After waits at least that long", async () => {
    const account = await createAccount();
    const name = uniqueName();
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/retry-after/3/${name}` });
    await publish(account.id, { type: "a.b", entity: {} });
    const reqs = await waitForReceived(name, 2, 10_000);
    expect(reqs[1]!.at - reqs[0]!.at).toBeGreaterThanOrEqual(2900);
  }, 15_000);

  it("response bodies are kept up to 4 KiB", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    await publish(account.id, { type: "a.b", entity: {} });
    await expect.poll(async () => (await attemptsOf(account.id, webhook.id)).length).toBe(1);
    const [a] = await attemptsOf(account.id, webhook.id);
    expect(a.responseBody.length).toBe(4096);
    const listed = await call("GET", "/v1/webhooks", { token: ADMIN, accountId: account.id });
    expect(listed.body.webhooks[0].lastAttempt).toEqual({ at: a.createdAt, status: 200, succeeded: true });
  });
});

describe("publishing", () => {
  it("one delivery per matching webhook: event types and filters", async () => {
    const account = await createAccount("enterprise");
    const url = (n: string) => `${env.RECEIVER_URL}/ok/${n}`;
    const names = {
      all: uniqueName(),
      typed: uniqueName(),
      major: uniqueName(),
      open: uniqueName(),
      other: uniqueName(),
    };
    const order = ["minor", "major", "critical"];
    await createWebhook(account.id, { url: url(names.all), events: ["*"] });
    await createWebhook(account.id, { url: url(names.typed), events: ["issue.resolved"] });
    await createWebhook(account.id, {
      url: url(names.major),
      events: ["*"],
      filter: [{ field: "severity", op: "gte", value: "major", order }],
    });
    await createWebhook(account.id, {
      url: url(names.open),
      events: ["*"],
      filter: [
        { field: "meta.status", op: "in", value: ["open", "resolved"] },
        { field: "meta.owner", op: "exists" },
      ],
    });
    await createWebhook(account.id, { url: url(names.other), events: ["lap.created"] });
    const minor = await publish(account.id, {
      type: "issue.resolved",
      entity: { severity: "minor", meta: { status: "open" } },
    });
    expect(minor.body.deliveries).toHaveLength(2);
    const critical = await publish(account.id, {
      type: "issue.resolved",
      entity: { severity: "critical", meta: { status: "resolved", owner: "ada" } },
    });
    expect(critical.body.deliveries).toHaveLength(4);
    await waitForReceived(names.major, 1);
    await waitForReceived(names.open, 1);
    await waitForReceived(names.all, 2);
    expect(JSON.parse((await received(names.major))[0]!.body).entity.severity).toBe("critical");
    expect(await received(names.other)).toHaveLength(0);
  });

  it("a repeated idempotency key answers the first event and sends nothing again", async () => {
    const account = await createAccount();
    const name = uniqueName();
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    const body = { type: "invoice.paid", entity: { id: "in_1" }, idempotencyKey: "pay-in_1" };
    const first = await publish(account.id, body);
    const second = await publish(account.id, { ...body, entity: { id: "different" } });
    expect(second.status).toBe(202);
    expect(second.body.event).toEqual(first.body.event);
    expect(second.body.deliveries.map((d: { id: string }) => d.id)).toEqual(
      first.body.deliveries.map((d: { id: string }) => d.id),
    );
    await waitForReceived(name, 1);
    // The repeat wrote nothing to send: one event, one delivery, the one received.
    const events = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE account_id = ?1")
      .bind(account.id)
      .first<{ n: number }>();
    expect({ events: events?.n, deliveries: (await deliveriesOfAccount(account.id)).length }).toEqual({
      events: 1,
      deliveries: 1,
    });
    expect(await received(name)).toHaveLength(1);
    const concurrent = await Promise.all([1, 2, 3].map(() => publish(account.id, { ...body, idempotencyKey: "race" })));
    expect(new Set(concurrent.map((r) => r.body.event.id)).size).toBe(1);
  });

  it("entities over 1 MiB: 413; bad types: 400", async () => {
    const account = await createAccount();
    const big = await publish(account.id, { type: "a.b", entity: { blob: "x".repeat(1_050_000) } });
    expect(big.status).toBe(413);
    expect((await publish(account.id, { type: "Bad Type", entity: {} })).status).toBe(400);
    expect((await publish(account.id, { type: "a.b", entity: [1] })).status).toBe(400);
  });

  it("Keyhook emits its own events through the same path (api_key.created, api_key.revoked)", async () => {
    const account = await createAccount();
    const name = uniqueName();
    await createWebhook(account.id, {
      url: `${env.RECEIVER_URL}/ok/${name}`,
      events: ["api_key.created", "api_key.revoked"],
    });
    const { apiKey, key } = await createKey(account.id, { name: "Emitted" });
    await call("DELETE", `/v1/api-keys/${apiKey.id}`, { token: ADMIN, accountId: account.id });
    const reqs = await waitForReceived(name, 2);
    const bodies = reqs.map((r) => JSON.parse(r.body));
    expect(bodies.map((b) => b.event).sort()).toEqual(["api_key.created", "api_key.revoked"]);
    expect(bodies.find((b) => b.event === "api_key.created").entity).toMatchObject({ id: apiKey.id, name: "Emitted" });
    expect(JSON.stringify(bodies)).not.toContain(key);
  });
});

describe("rotation overlap", () => {
  it("both signatures are sent until the overlap ends; each secret verifies", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook, secret: oldSecret } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    const rotated = await call("POST", `/v1/webhooks/${webhook.id}/rotate-secret`, {
      token: ADMIN,
      accountId: account.id,
      body: { overlapSeconds: 3600 },
    });
    expect(rotated.status).toBe(200);
    const newSecret = rotated.body.secret;
    expect(newSecret).not.toBe(oldSecret);
    expect(Date.parse(rotated.body.webhook.previousSecretExpiresAt) - Date.now()).toBeGreaterThan(3_500_000);
    await publish(account.id, { type: "a.b", entity: {} });
    const [req] = await waitForReceived(name, 1);
    expect(req!.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect(() => new Webhook(oldSecret).verify(req!.body, req!.headers)).not.toThrow();
    expect(() => new Webhook(newSecret).verify(req!.body, req!.headers)).not.toThrow();
    await endOverlap(account.id, webhook.id);
    await publish(account.id, { type: "a.b", entity: {} });
    const reqs = await waitForReceived(name, 2);
    expect(reqs[1]!.headers["webhook-signature"]!.split(" ")).toHaveLength(1);
    expect(() => new Webhook(oldSecret).verify(reqs[1]!.body, reqs[1]!.headers)).toThrow();
    expect(
      (await call("GET", `/v1/webhooks/${webhook.id}/secret`, { token: ADMIN, accountId: account.id })).body.secret,
    ).toBe(newSecret);
  });

  it("overlap is at most 7 days", async () => {
    const account = await createAccount();
    const { webhook } = await createWebhook(account.id, { url: "https://example.com/x" });
    const res = await call("POST", `/v1/webhooks/${webhook.id}/rotate-secret`, {
      token: ADMIN,
      accountId: account.id,
      body: { overlapSeconds: 604801 },
    });
    expect(res.status).toBe(400);
  });
});

describe("history, test events, recover", () => {
  it("Send test event: a synthetic signed event through the same path, in the history; capped per hour", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook, secret } = await createWebhook(account.id, {
      url: `${env.RECEIVER_URL}/ok/${name}`,
      events: ["issue.resolved"],
    });
    const res = await call("POST", `/v1/webhooks/${webhook.id}/test`, {
      token: ADMIN,
      accountId: account.id,
      body: { event: "api_key.created" },
    });
    expect(res.status).toBe(202);
    const [req] = await waitForReceived(name, 1);
    const payload = new Webhook(secret).verify(req!.body, req!.headers) as {
      event: string;
      entity: Record<string, unknown>;
    };
    expect(payload.event).toBe("api_key.created");
    expect(payload.entity).toMatchObject({ test: true, name: "CI/CD Pipeline" });
    await expect.poll(async () => (await attemptsOf(account.id, webhook.id)).length).toBe(1);
    // 20 an hour: 19 more go, the 21st is refused.
    for (let i = 0; i < 19; i++) {
      const more = await call("POST", `/v1/webhooks/${webhook.id}/test`, {
        token: ADMIN,
        accountId: account.id,
        body: {},
      });
      expect(more.status).toBe(202);
    }
    const capped = await call("POST", `/v1/webhooks/${webhook.id}/test`, {
      token: ADMIN,
      accountId: account.id,
      body: {},
    });
    expect(capped.status).toBe(429);
  });

  it("recover re-sends the failed deliveries since a time", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/status/500/${name}` });
    const first = await publish(account.id, { type: "a.b", entity: { n: 1 } });
    await expect
      .poll(async () => (await deliveryRow(first.body.deliveries[0].id))?.status, { timeout: 10_000 })
      .toBe("failed");
    await call("PATCH", `/v1/webhooks/${webhook.id}`, {
      token: ADMIN,
      accountId: account.id,
      body: { url: `${env.RECEIVER_URL}/ok/${name}` },
    });
    const res = await call("POST", `/v1/webhooks/${webhook.id}/recover`, {
      token: ADMIN,
      accountId: account.id,
      body: { since: new Date(Date.now() - 60_000).toISOString() },
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ count: 1 });
    await expect.poll(async () => (await deliveryRow(first.body.deliveries[0].id))?.status).toBe("succeeded");
  }, 20_000);

  it("a disabled webhook receives nothing and cannot be tested (409)", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    await call("PATCH", `/v1/webhooks/${webhook.id}`, {
      token: ADMIN,
      accountId: account.id,
      body: { status: "disabled" },
    });
    const res = await publish(account.id, { type: "a.b", entity: {} });
    expect(res.body.deliveries).toEqual([]);
    expect(
      (await call("POST", `/v1/webhooks/${webhook.id}/test`, { token: ADMIN, accountId: account.id })).status,
    ).toBe(409);
  });
});

describe("the queue consumer and the cron", () => {
  it("acks a message for an unknown or finished delivery; parks a malformed one in the DLQ", async () => {
    const batch = createMessageBatch("keyhook-deliveries", [
      { id: "m1", timestamp: new Date(), attempts: 1, body: { deliveryId: "dlv_missing" } },
      { id: "m2", timestamp: new Date(), attempts: 1, body: { nope: true } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(["m1", "m2"]);
    expect(result.retryMessages).toEqual([]);
  });

  it("retries a failed send with the schedule's delay, and never sends a claimed delivery twice", async () => {
    const account = await createAccount();
    const name = uniqueName();
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/status/500/${name}` });
    // Written straight into D1 without queueing, so only this test's batch sends it.
    const now = Date.now();
    const { results } = await env.DB.prepare("SELECT id FROM webhooks WHERE account_id = ?")
      .bind(account.id)
      .all<{ id: string }>();
    const [q1] = await insertEvent({
      id: newId("evt", now),
      accountId: account.id,
      type: "a.b",
      createdAt: now,
      deliveries: [{ webhookId: results[0]!.id, nextAttemptAt: now }],
    });
    const batch = createMessageBatch("keyhook-deliveries", [
      { id: "a", timestamp: new Date(), attempts: 1, body: { deliveryId: q1 } },
      { id: "b", timestamp: new Date(), attempts: 1, body: { deliveryId: q1 } }, // a duplicate
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages).toHaveLength(1);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await received(name)).toHaveLength(1);
    const row = await deliveryRow(q1!);
    expect(row).toMatchObject({ status: "pending", attempts: 1 });
    // The next try is due after the schedule's first delay (1 s in tests, ±10 %).
    expect(row!.next_attempt_at - row!.last_attempt_at).toBeGreaterThanOrEqual(900);
    expect(row!.next_attempt_at - row!.last_attempt_at).toBeLessThanOrEqual(1100);
  });

  it("a crash after a successful fetch: the cron re-queues it and it is redelivered with the same webhook-id", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}`, events: ["x.y"] });
    const now = Date.now();
    const c1Event = newId("evt", now);
    const [c1] = await insertEvent({
      id: c1Event,
      accountId: account.id,
      type: "x.y",
      createdAt: now,
      deliveries: [{ webhookId: webhook.id, nextAttemptAt: now }],
    });
    // D1 refuses the write that records the outcome: the Worker "dies" after the receiver got it.
    const recordsOutcome = (statements: D1PreparedStatement[]) =>
      statements.some((st) => RECORDS_OUTCOME.test((st as unknown as { statement: string }).statement));
    const failingDb = new Proxy(env.DB, {
      get: (target, prop) =>
        prop === "batch"
          ? (statements: D1PreparedStatement[]) =>
              recordsOutcome(statements) ? Promise.reject(new Error("D1 went away")) : target.batch(statements)
          : (Reflect.get(target, prop).bind?.(target) ?? Reflect.get(target, prop)),
    });
    const batch = createMessageBatch("keyhook-deliveries", [
      { id: "c", timestamp: new Date(), attempts: 1, body: { deliveryId: c1! } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...env, DB: failingDb }, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages).toHaveLength(1); // not acked: it did not finish
    expect(await received(name)).toHaveLength(1);
    expect(await deliveryRow(c1!)).toMatchObject({ status: "pending", attempts: 0 });
    // Its lease runs out; the cron finds it overdue and re-queues it.
    await setDelivery(c1!, { next_attempt_at: Date.now() - 60_000, lease_until: null });
    await worker.scheduled(
      createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }),
      env,
      createExecutionContext(),
    );
    const reqs = await waitForReceived(name, 2);
    expect(reqs[1]!.headers["webhook-id"]).toBe(c1Event);
    expect(reqs[1]!.headers["webhook-id"]).toBe(reqs[0]!.headers["webhook-id"]);
    await expect.poll(async () => (await deliveryRow(c1!))?.status).toBe("succeeded");
  });

  it("the cron no longer prunes attempts: a webhook's whole history pages out, newest first", async () => {
    const account = await createAccount();
    const { webhook } = await createWebhook(account.id, { url: "https://example.com/x" });
    const at = Date.now();
    for (let i = 0; i < 60; i++) {
      const t = at - 60_000 + i * 1000;
      await insertEvent({
        id: newId("evt", t - 100),
        accountId: account.id,
        type: "a.b",
        createdAt: t - 100,
        deliveries: [
          {
            webhookId: webhook.id,
            status: i % 3 === 0 ? "failed" : "succeeded",
            attempts: 1,
            tries: [
              {
                id: `${idFloor("att", t)}${String(i).padStart(3, "0")}`,
                attempt: 1,
                succeeded: i % 3 !== 0,
                createdAt: t,
              },
            ],
          },
        ],
      });
    }
    await worker.scheduled(
      createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }),
      env,
      createExecutionContext(),
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await call(
        "GET",
        `/v1/webhooks/${webhook.id}/attempts?limit=25${cursor ? `&cursor=${cursor}` : ""}`,
        { token: ADMIN, accountId: account.id },
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.attempts.map((a: { id: string }) => a.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(60);
    expect([...seen].sort().reverse()).toEqual(seen);
    const failed: any = await call("GET", `/v1/webhooks/${webhook.id}/attempts?status=failed&limit=100`, {
      token: ADMIN,
      accountId: account.id,
    });
    expect(failed.body.attempts).toHaveLength(20);
    expect(failed.body.attempts.every((a: { succeeded: boolean }) => !a.succeeded)).toBe(true);
    const recent: any = await call(
      "GET",
      `/v1/webhooks/${webhook.id}/attempts?since=${new Date(at - 10_500).toISOString()}`,
      { token: ADMIN, accountId: account.id },
    );
    expect(recent.body.attempts).toHaveLength(10);
  });

  it("the cron announces keys expiring within 7 days, once per expiry", async () => {
    const account = await createAccount();
    const name = uniqueName();
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}`, events: ["api_key.expiring"] });
    const soon = await createKey(account.id, { name: "Soon", expiresInDays: 3 });
    await createKey(account.id, { name: "Later", expiresInDays: 30 });
    const cron = () =>
      worker.scheduled(
        createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }),
        env,
        createExecutionContext(),
      );
    await cron();
    await cron();
    const [notice] = await waitForReceived(name, 1);
    expect(JSON.parse(notice!.body)).toMatchObject({
      event: "api_key.expiring",
      entity: { id: soon.apiKey.id, name: "Soon" },
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(await received(name)).toHaveLength(1);
    // A new expiry is announced again when it comes near.
    await call("PATCH", `/v1/api-keys/${soon.apiKey.id}`, {
      token: ADMIN,
      accountId: account.id,
      body: { expiresInDays: 2 },
    });
    await cron();
    await waitForReceived(name, 2);
  });

  it("a webhook with no success for WEBHOOK_DISABLE_AFTER_HOURS is disabled on its next failure", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, {
      url: `${env.RECEIVER_URL}/status/500/${name}`,
      events: ["a.b"],
    });
    await env.DB.prepare("UPDATE webhooks SET failing_since = ? WHERE id = ?")
      .bind(Date.now() - 121 * 3_600_000, webhook.id)
      .run();
    await publish(account.id, { type: "a.b", entity: {} });
    await expect
      .poll(
        async () =>
          (await call("GET", `/v1/webhooks/${webhook.id}`, { token: ADMIN, accountId: account.id })).body.webhook
            .status,
      )
      .toBe("disabled");
    const got = await call("GET", `/v1/webhooks/${webhook.id}`, { token: ADMIN, accountId: account.id });
    expect(got.body.webhook.disabledReason).toMatch(/no successful delivery for 120 hours/);
    // No retries once disabled: the delivery ended with it, and a message for it sends nothing.
    const ended = (await deliveriesOfAccount(account.id)).filter((d) => d.webhook_id === webhook.id);
    expect(ended.map((d) => d.status)).toEqual(["failed"]);
    expect((await consumeNow(ended.map((d) => d.id))).explicitAcks).toHaveLength(1);
    expect(await received(name)).toHaveLength(1);
  });

  it("a success resets the failure clock", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/fail/1/${name}` });
    await publish(account.id, { type: "a.b", entity: {} });
    await waitForReceived(name, 2);
    await expect
      .poll(
        async () =>
          (await call("GET", `/v1/webhooks/${webhook.id}`, { token: ADMIN, accountId: account.id })).body.webhook,
      )
      .toMatchObject({ failingSince: null, lastSuccessAt: expect.any(String) });
  }, 15_000);

  it("the Worker exports the queue and scheduled handlers", () => {
    expect(typeof exports.default.fetch).toBe("function");
    expect(typeof worker.queue).toBe("function");
    expect(typeof worker.scheduled).toBe("function");
  });
});

import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { compose } from "../src/compose";
import worker from "../src/index";
import { newId } from "../src/lib/encoding";
import type { KeyhookBinding } from "../src/sdk/middleware";
import { ADMIN, accountWithKey, call } from "./helpers/api";
import {
  attemptsOfEvent,
  consumeNow,
  createWebhook,
  deliveryRow,
  insertEvent,
  received,
  uniqueName,
  waitForReceived,
} from "./helpers/webhooks";

const rpc = exports.KeyhookRpc as unknown as KeyhookBinding;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const whoami = (key: string) => call("GET", "/v1/whoami", { apiKey: key });

/** Requests with `key` back to back until `stop()`; answers every status seen, in order. */
function hammer(key: string) {
  let running = true;
  const statuses: number[] = [];
  const done = (async () => {
    // Bounded, and yielding to timers between requests (a loop of in-process calls would starve them).
    for (let i = 0; running && i < 500; i++) {
      statuses.push((await whoami(key)).status);
      await sleep(2);
    }
  })();
  return {
    statuses,
    stop: async () => {
      running = false;
      await done;
      return statuses;
    },
  };
}

describe("races", () => {
  it("a revoke during a rotation's grace period, with both secrets in use: both refused from then on, everywhere", async () => {
    const { account, apiKey, key: oldKey } = await accountWithKey("pro");
    const rotated = await call("POST", `/v1/api-keys/${apiKey.id}/rotate`, {
      token: ADMIN,
      accountId: account.id,
      body: { gracePeriodSeconds: 3600 },
    });
    const newKey = rotated.body.key as string;
    const old = hammer(oldKey);
    const fresh = hammer(newKey);
    await sleep(50);
    const revoked = await call("DELETE", `/v1/api-keys/${apiKey.id}`, { token: ADMIN, accountId: account.id });
    expect(revoked.status).toBe(200);
    const seen = [...(await old.stop()), ...(await fresh.stop())];
    expect(seen).toContain(200); // both were in use before the revoke
    for (const key of [oldKey, newKey]) {
      expect((await whoami(key)).status).toBe(401);
      expect((await call("POST", "/v1/keys/verify", { token: ADMIN, body: { key } })).body).toMatchObject({
        valid: false,
        code: "REVOKED",
      });
      expect((await rpc.verify(key)).valid).toBe(false);
    }
    // Each hammer's statuses turn from 200 to 401 once and never back.
    for (const statuses of [old.statuses, fresh.statuses]) {
      const firstRefusal = statuses.indexOf(401);
      if (firstRefusal >= 0) expect(statuses.slice(firstRefusal).every((s) => s === 401)).toBe(true);
      expect(statuses.every((s) => s === 200 || s === 401)).toBe(true);
    }
  });

  it("a webhook deleted while its first attempt is in flight: no further attempt, the delivery cancelled, the attempt made kept in its event", async () => {
    const { account } = await accountWithKey("pro");
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    // The receiver, steered (compose's fetch): the first attempt is held until the webhook is gone, then fails.
    const asked: string[] = [];
    let answer: (res: Response) => void = () => {};
    const held = new Promise<Response>((resolve) => {
      answer = resolve;
    });
    const queued: MessageSendRequest[] = [];
    const queue = { sendBatch: async (m: MessageSendRequest[]) => void queued.push(...m) } as unknown as Queue;
    const work: Promise<unknown>[] = [];
    const services = compose(
      { ...env, DELIVERIES: queue },
      { waitUntil: (p) => work.push(p), requestId: "race" },
      {
        fetch: async (url) => {
          asked.push(String(url));
          return held;
        },
      },
    );
    const published = await services.events.publish(
      { accountId: account.id, webhooksVersion: null },
      { type: "order.paid", entity: { id: "o_1" } },
    );
    const deliveryId = published.deliveries[0]!.id;
    await vi.waitUntil(() => asked.length === 1);
    expect((await call("DELETE", `/v1/webhooks/${webhook.id}`, { token: ADMIN, accountId: account.id })).status).toBe(
      200,
    );
    answer(new Response("boom", { status: 500 }));
    await Promise.all(work);
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: "cancelled", next_attempt_at: null, attempts: 0 });
    // The POST that went out stays in the event's history (the delivery's state stays cancelled).
    const made = await attemptsOfEvent(published.event.id);
    expect(made.map((a) => [a.delivery_id, a.k])).toEqual([[deliveryId, 0]]);
    // The failure's retry message, consumed now: nothing is sent again.
    expect(queued.map((m) => m.body)).toEqual([{ deliveryId }]);
    expect((await consumeNow([deliveryId])).explicitAcks).toHaveLength(1);
    expect(asked).toHaveLength(1);
    expect(await received(name)).toHaveLength(0);
  });

  it("a webhook deleted while the consumer sends its delivery: the same, on the queue's path", async () => {
    const { account } = await accountWithKey("pro");
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/hang/800/${name}` });
    const now = Date.now();
    const eventId = newId("evt", now);
    const [deliveryId] = await insertEvent({
      id: eventId,
      accountId: account.id,
      type: "order.paid",
      createdAt: now,
      deliveries: [{ webhookId: webhook.id, nextAttemptAt: now }],
    });
    if (!deliveryId) throw new Error("no delivery");
    const batch = createMessageBatch("keyhook-deliveries", [
      { id: "m1", timestamp: new Date(), attempts: 1, body: { deliveryId } },
    ]);
    const ctx = createExecutionContext();
    const consumed = worker.queue(batch, env, ctx);
    await waitForReceived(name, 1);
    await call("DELETE", `/v1/webhooks/${webhook.id}`, { token: ADMIN, accountId: account.id });
    await consumed;
    await waitOnExecutionContext(ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.length + result.retryMessages.length).toBe(1);
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: "cancelled", attempts: 0 });
    expect((await attemptsOfEvent(eventId)).map((a) => a.delivery_id)).toEqual([deliveryId]);
    // Another message for it (a redelivery) sends nothing.
    const again = createMessageBatch("keyhook-deliveries", [
      { id: "m2", timestamp: new Date(), attempts: 2, body: { deliveryId } },
    ]);
    const ctx2 = createExecutionContext();
    await worker.queue(again, env, ctx2);
    await waitOnExecutionContext(ctx2);
    expect((await getQueueResult(again, ctx2)).explicitAcks).toEqual(["m2"]);
    expect(await received(name)).toHaveLength(1);
  });

  it("an account moved to free while its keys are in use: the next request is 403 plan_no_api_access", async () => {
    const { account, key } = await accountWithKey("pro");
    const load = hammer(key);
    await sleep(50);
    const moved = await call("PATCH", `/v1/accounts/${account.id}`, { token: ADMIN, body: { plan: "free" } });
    expect(moved.status).toBe(200);
    const next = await whoami(key);
    expect(next.status).toBe(403);
    expect(next.body.error.code).toBe("plan_no_api_access");
    const statuses = await load.stop();
    expect(statuses).toContain(200);
    const firstRefusal = statuses.indexOf(403);
    if (firstRefusal >= 0) expect(statuses.slice(firstRefusal).every((s) => s === 403)).toBe(true);
    expect((await call("POST", "/v1/keys/verify", { token: ADMIN, body: { key } })).body).toMatchObject({
      valid: false,
      code: "PLAN_BLOCKED",
    });
    expect((await rpc.verify(key)).code).toBe("PLAN_BLOCKED");
  });
});

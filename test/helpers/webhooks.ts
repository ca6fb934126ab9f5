import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
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

export async function deliveryRow(id: string) {
  return env.DB.prepare("SELECT * FROM deliveries WHERE id = ?").bind(id).first<Record<string, any>>();
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

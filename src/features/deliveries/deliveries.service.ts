import { ApiError } from "../../lib/errors";
import { found, iso } from "../../lib/schemas";
import { rateLimited } from "../ratelimit/limits";
import { enqueue, listEventTypes, type PublishDeps, publishEvent, toDeliverySummary } from "../events/events.service";
import { getWebhook } from "../webhooks/webhooks.repo";
import * as repo from "./deliveries.repo";
import { deliveryBody } from "./send";

/** Test sends per webhook per hour: "Send test event" must not become a traffic cannon. */
export const TEST_SENDS_PER_HOUR = 20;
const ATTEMPTS_SHOWN = 50;

/** Test sends publish, so they take what publishing takes (the first attempt is sent at once). */
export type DeliveryDeps = PublishDeps;

type ListedAttempt = Awaited<ReturnType<typeof repo.listAttempts>>[number];

const toAttempt = ({ attempt: a, event }: ListedAttempt) => ({
  id: a.id,
  deliveryId: a.deliveryId,
  eventId: a.eventId,
  eventType: a.eventType,
  attempt: a.attempt,
  url: a.url,
  requestHeaders: JSON.parse(a.requestHeaders) as Record<string, string>,
  requestBody: a.requestBody ?? (event ? deliveryBody(event) : ""),
  responseStatus: a.responseStatus,
  responseHeaders: a.responseHeaders ? (JSON.parse(a.responseHeaders) as Record<string, string>) : null,
  responseBody: a.responseBody,
  durationMs: a.durationMs,
  failureReason: a.failureReason,
  succeeded: a.succeeded,
  createdAt: iso(a.createdAt),
});

async function activeWebhook(deps: DeliveryDeps, id: string) {
  const webhook = found(await getWebhook(deps.db, deps.accountId, id), "Webhook");
  if (webhook.status !== "active") {
    throw new ApiError("conflict", "This webhook is disabled; enable it before sending to it", { status: webhook.status });
  }
  return webhook;
}

export async function listAttempts(deps: DeliveryDeps, webhookId: string) {
  found(await getWebhook(deps.db, deps.accountId, webhookId), "Webhook");
  return (await repo.listAttempts(deps.db, deps.accountId, webhookId, ATTEMPTS_SHOWN)).map(toAttempt);
}

/** Sends one delivery again now, with the same `webhook-id`, whatever its state. */
export async function retryDelivery(deps: DeliveryDeps, id: string) {
  const delivery = found(await repo.getDelivery(deps.db, deps.accountId, id), "Delivery");
  await activeWebhook(deps, delivery.webhookId);
  await repo.makeDue(deps.db, [id], deps.now);
  await enqueue(deps.queue, [id]);
  return { ...toDeliverySummary(delivery), status: "pending" as const };
}

/** Re-sends every failed delivery of the webhook created since `since`. */
export async function recover(deps: DeliveryDeps, webhookId: string, since: number) {
  await activeWebhook(deps, webhookId);
  const failed = await repo.failedSince(deps.db, deps.accountId, webhookId, since);
  const ids = await repo.makeDue(deps.db, failed.map((d) => d.id), deps.now);
  await enqueue(deps.queue, ids);
  return ids.length;
}

/** A synthetic event (the catalog's example entity) through the same path, to this webhook only. */
export async function sendTest(deps: DeliveryDeps, webhookId: string, type = "webhook.test") {
  await activeWebhook(deps, webhookId);
  const hourAgo = deps.now - 3_600_000;
  if ((await repo.testSendsSince(deps.db, webhookId, hourAgo)) >= TEST_SENDS_PER_HOUR) {
    throw rateLimited(`At most ${TEST_SENDS_PER_HOUR} test events per webhook per hour`, deps.now + 3_600_000, deps.now);
  }
  const known = (await listEventTypes(deps.db, deps.accountId)).find((t) => t.name === type);
  const example = known?.example;
  const entity =
    example && typeof example === "object" && !Array.isArray(example)
      ? (example as Record<string, unknown>)
      : { message: "This is a test event from Keyhook" };
  const { deliveries } = await publishEvent(
    deps,
    { type, entity: { ...entity, test: true } },
    { onlyWebhookId: webhookId, isTest: true },
  );
  return deliveries[0]!;
}

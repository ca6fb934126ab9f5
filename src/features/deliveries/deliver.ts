import type { Db } from "../../db/client";
import type { AttemptRow, DeliveryRow, WebhookRow } from "../../db/schema";
import type { WebhookSettings } from "../../lib/config";
import { newId } from "../../lib/encoding";
import { decryptSecret } from "../../lib/secret-box";
import { nextRetryDelay, parseRetryAfter } from "../../queue/retry";
import { checkWebhookUrl } from "../webhooks/url-safety";
import { claimForSend, markFailed, type Outcome, recordOutcome } from "./deliveries.repo";
import { deliveryBody, type HttpResult, post, signedHeaders } from "./send";

export interface DeliverDeps {
  db: Db;
  settings: WebhookSettings;
  secretKey: string;
  fetch: typeof fetch;
  now: () => number;
  /** Disables a webhook (410, or failing too long): audit entry and `webhook.disabled` event. */
  disable: (webhook: WebhookRow, reason: string) => Promise<void>;
}

export type Verdict = { action: "ack" } | { action: "retry"; delaySeconds: number };

async function secretsOf(deps: DeliverDeps, webhook: WebhookRow, now: number) {
  const current = await decryptSecret(webhook.secret, deps.secretKey, webhook.id);
  const overlapping = webhook.previousSecret && (webhook.previousSecretExpiresAt ?? 0) > now;
  return overlapping ? [current, await decryptSecret(webhook.previousSecret!, deps.secretKey, webhook.id)] : [current];
}

const refused = (reason: string): HttpResult => ({
  status: null,
  headers: null,
  body: null,
  durationMs: 0,
  failure: `URL refused: ${reason}`,
  retryAfter: null,
});

/**
 * Sends one delivery once: claim it and read its event and webhook (one round trip; duplicates of
 * its message do nothing), sign, POST, and record the attempt, the delivery's next state and the
 * webhook's health in one batch. Answers whether the queue message is done (ack) or should come
 * back after the retry delay.
 */
export async function deliverOne(deps: DeliverDeps, deliveryId: string): Promise<Verdict> {
  const { db, settings } = deps;
  const now = deps.now();
  const { delivery, event, webhook } = await claimForSend(db, deliveryId, now, now + settings.timeoutMs + 60_000);
  if (!delivery) return { action: "ack" }; // already done, not due, or in flight elsewhere
  if (!event || !webhook || webhook.status !== "active") {
    const reason = !webhook ? "webhook was deleted" : !event ? "event was deleted" : "webhook is disabled";
    await markFailed(db, delivery.id, now);
    console.log(JSON.stringify({ level: "info", msg: "delivery dropped", deliveryId, reason }));
    return { action: "ack" };
  }
  const body = deliveryBody(event);
  const headers = await signedHeaders(event, webhook, delivery.id, body, await secretsOf(deps, webhook, now), Math.floor(now / 1000));
  const verdict = checkWebhookUrl(webhook.url, { allowPrivate: settings.allowPrivateUrls, denyHosts: settings.denyHosts });
  const result = verdict.ok ? await post(deps.fetch, webhook.url, headers, body, settings.timeoutMs) : refused(verdict.reason);
  const done = deps.now();
  const number = delivery.attempts + 1;
  const attempt: AttemptRow = {
    id: newId("att", done),
    accountId: delivery.accountId,
    webhookId: webhook.id,
    deliveryId: delivery.id,
    eventId: event.id,
    eventType: event.type,
    attempt: number,
    url: webhook.url,
    requestHeaders: JSON.stringify(headers),
    requestBody: body,
    responseStatus: result.status,
    responseHeaders: result.headers && JSON.stringify(result.headers),
    responseBody: result.body,
    durationMs: result.durationMs,
    failureReason: result.failure,
    succeeded: result.failure === null,
    createdAt: done,
  };
  const plan = nextStep(deps, delivery, webhook, result, number, done);
  const last = { lastAttemptAt: done, lastAttemptStatus: result.status, lastAttemptSucceeded: result.failure === null };
  await recordOutcome(db, delivery.id, webhook.id, { attempt, ...plan.outcome, webhook: { ...plan.outcome.webhook, ...last } });
  if (plan.disableReason) await deps.disable(webhook, plan.disableReason);
  return plan.delaySeconds === null ? { action: "ack" } : { action: "retry", delaySeconds: plan.delaySeconds };
}

/** What follows an attempt: success, a retry after the schedule's delay, or the end. */
function nextStep(
  deps: DeliverDeps,
  delivery: DeliveryRow,
  webhook: WebhookRow,
  result: HttpResult,
  number: number,
  now: number,
): { outcome: Omit<Outcome, "attempt">; delaySeconds: number | null; disableReason: string | null } {
  const base = { attempts: number, lastAttemptAt: now, updatedAt: now };
  if (result.failure === null) {
    return {
      outcome: {
        delivery: { ...base, status: "succeeded", nextAttemptAt: null },
        webhook: { lastSuccessAt: now, failingSince: null },
      },
      delaySeconds: null,
      disableReason: null,
    };
  }
  const failingSince = webhook.failingSince ?? now;
  const webhookHealth = { failingSince };
  let disableReason: string | null = null;
  if (result.status === 410) disableReason = "the endpoint answered 410 Gone";
  else if (now - failingSince >= deps.settings.disableAfterHours * 3_600_000) {
    disableReason = `no successful delivery for ${deps.settings.disableAfterHours} hours`;
  }
  const retryAfter = result.status === 429 || result.status === 503 ? parseRetryAfter(result.retryAfter, now) : null;
  const delay = disableReason ? null : nextRetryDelay(number, deps.settings.retryDelays, retryAfter);
  return {
    outcome: {
      delivery:
        delay === null
          ? { ...base, status: "failed", nextAttemptAt: null }
          : { ...base, status: "pending", nextAttemptAt: now + delay * 1000 },
      webhook: webhookHealth,
    },
    delaySeconds: delay,
    disableReason,
  };
}

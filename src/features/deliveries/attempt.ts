import type { WebhookSettings } from "../../config";
import { newId } from "../../lib/encoding";
import { IsolateMap } from "../../lib/isolate-memory";
import { decryptSecret } from "../../lib/secret-box";
import { openHeaders } from "../webhooks/custom-headers";
import { type SigningKeys, signingKeys } from "../webhooks/signing";
import type { WebhookTarget } from "../webhooks/targets";
import { checkWebhookUrl } from "../webhooks/url-safety";
import type { Job } from "./job";
import { deliveryBody, type HttpResult, post, signedHeaders } from "./request";
import { nextRetryDelay, parseRetryAfter } from "./retry";

export interface AttemptDeps {
  settings: WebhookSettings;
  /** `WEBHOOK_SECRET_KEY`: opens the stored signing secrets. */
  secretKey: string;
  fetch: typeof fetch;
  now: () => number;
  /** The retry delay's jitter. */
  random: () => number;
}

/** The attempt row as the history shows it (the request body is the event's, rebuilt on read). */
export interface AttemptRecord {
  id: string;
  accountId: string;
  webhookId: string;
  deliveryId: string;
  eventId: string;
  eventType: string;
  attempt: number;
  url: string;
  requestHeaders: Record<string, string>;
  responseStatus: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  durationMs: number;
  failureReason: string | null;
  succeeded: boolean;
  createdAt: number;
  /** The body was the entity alone (the webhook's `raw` delivery format); else the envelope. */
  raw?: boolean;
}

/** One finished attempt and what follows it. */
export interface Outcome {
  job: Job;
  attempt: AttemptRecord;
  delivery: {
    id: string;
    status: "pending" | "succeeded" | "failed";
    attempts: number;
    nextAttemptAt: number | null;
    at: number;
  };
  /** Seconds until the next try, or null: the delivery is finished (succeeded, or out of tries). */
  retryInSeconds: number | null;
  /** The endpoint answered 410 Gone: its webhook is disabled at once. */
  gone: boolean;
}

/**
 * Signing keys per stored secret, made once per isolate: opening the secret (AES-GCM) and importing
 * two HMAC keys is otherwise most of a delivery's own CPU. Keyed by the ciphertext, so a rotated
 * secret is a new entry; bounded, emptied when full.
 */
const keyCache = new IsolateMap<string, Promise<SigningKeys>>("webhook signing keys", 2_000);

function keysOf(sealed: string, secretKey: string, webhookId: string): Promise<SigningKeys> {
  const cacheKey = `${webhookId}:${sealed}`;
  let keys = keyCache.get(cacheKey);
  if (!keys) {
    keys = decryptSecret(sealed, secretKey, webhookId).then(signingKeys);
    keys.catch(() => keyCache.delete(cacheKey));
    keyCache.set(cacheKey, keys);
  }
  return keys;
}

/** A webhook's custom headers, opened once per isolate (keyed by the ciphertext, like the keys). */
const headerCache = new IsolateMap<string, Promise<Record<string, string>>>("webhook custom headers", 2_000);

function customHeaders(webhook: WebhookTarget, secretKey: string): Promise<Record<string, string>> {
  if (!webhook.headers) return Promise.resolve({});
  const cacheKey = `${webhook.id}:${webhook.headers}`;
  let headers = headerCache.get(cacheKey);
  if (!headers) {
    headers = openHeaders(webhook.headers, secretKey, webhook.id);
    headers.catch(() => headerCache.delete(cacheKey));
    headerCache.set(cacheKey, headers);
  }
  return headers;
}

/** What the history keeps of a custom header: its name; the value may be a credential. */
const REDACTED = "[redacted]";

async function secretsOf(deps: AttemptDeps, webhook: WebhookTarget, now: number) {
  const current = keysOf(webhook.secret, deps.secretKey, webhook.id);
  const previous =
    webhook.previousSecret && (webhook.previousSecretExpiresAt ?? 0) > now ? webhook.previousSecret : null;
  return Promise.all(previous ? [current, keysOf(previous, deps.secretKey, webhook.id)] : [current]);
}

const refused = (reason: string): HttpResult => ({
  status: null,
  headers: null,
  body: null,
  durationMs: 0,
  failure: `URL refused: ${reason}`,
  retryAfter: null,
});

/** Signs and POSTs one delivery once (the URL is checked again at send time), and decides what follows. */
export async function attempt(deps: AttemptDeps, job: Job): Promise<Outcome> {
  const { settings } = deps;
  const { delivery, event, webhook } = job;
  const now = deps.now();
  const raw = webhook.deliveryFormat === "raw";
  const body = raw ? event.entity : deliveryBody(event);
  const custom = await customHeaders(webhook, deps.secretKey);
  const signed = await signedHeaders(
    event,
    webhook.id,
    delivery.id,
    body,
    await secretsOf(deps, webhook, now),
    Math.floor(now / 1000),
  );
  // Keyhook's own headers win (the API refuses a custom header that would replace one).
  const headers = { ...custom, ...signed };
  const verdict = checkWebhookUrl(webhook.url, {
    allowPrivate: settings.allowPrivateUrls,
    denyHosts: settings.denyHosts,
  });
  const result = verdict.ok
    ? await post(deps.fetch, webhook.url, headers, body, Math.min(webhook.timeoutMs ?? Infinity, settings.timeoutMs))
    : refused(verdict.reason);
  const done = deps.now();
  const number = delivery.attempts + 1;
  const record: AttemptRecord = {
    id: newId("att", done),
    accountId: delivery.accountId,
    webhookId: webhook.id,
    deliveryId: delivery.id,
    eventId: event.id,
    eventType: event.type,
    attempt: number,
    url: webhook.url,
    requestHeaders: { ...Object.fromEntries(Object.keys(custom).map((name) => [name, REDACTED])), ...signed },
    responseStatus: result.status,
    responseHeaders: result.headers,
    responseBody: result.body,
    durationMs: result.durationMs,
    failureReason: result.failure,
    succeeded: result.failure === null,
    createdAt: done,
    ...(raw ? { raw } : {}),
  };
  const step = nextStep(settings, number, result, done, deps.random);
  return { job, attempt: record, ...step, delivery: { ...step.delivery, id: delivery.id } };
}

/** What follows an attempt: success, a retry after the schedule's delay (or `Retry-After`), or the end. */
function nextStep(settings: WebhookSettings, number: number, result: HttpResult, now: number, random: () => number) {
  const base = { id: "", attempts: number, at: now };
  if (result.failure === null) {
    return {
      delivery: { ...base, status: "succeeded" as const, nextAttemptAt: null },
      retryInSeconds: null,
      gone: false,
    };
  }
  const gone = result.status === 410;
  const retryAfter = result.status === 429 || result.status === 503 ? parseRetryAfter(result.retryAfter, now) : null;
  const delay = gone ? null : nextRetryDelay(number, settings.retryDelays, retryAfter, random);
  return {
    delivery:
      delay === null
        ? { ...base, status: "failed" as const, nextAttemptAt: null }
        : { ...base, status: "pending" as const, nextAttemptAt: now + delay * 1000 },
    retryInSeconds: delay,
    gone,
  };
}

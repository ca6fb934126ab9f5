import type { z } from "@hono/zod-openapi";
import type { Db } from "../../db/client";
import type { WebhookRow } from "../../db/schema";
import type { WebhookSettings } from "../../lib/config";
import { newId } from "../../lib/encoding";
import { ApiError } from "../../lib/errors";
import { found, iso, isoOrNull, page } from "../../lib/schemas";
import { SYSTEM_ACTOR } from "../../lib/principal";
import { decryptSecret, encryptSecret } from "../../lib/secret-box";
import { type AuditContext, auditRow, diff } from "../audit/audit.service";
import { publishEvent } from "../events/events.service";
import type { FilterCondition } from "./filter";
import { generateWebhookSecret } from "./signing";
import { checkWebhookUrl } from "./url-safety";
import type { Disabling } from "../deliveries/runner";
import { forgetTargets } from "./targets";
import * as repo from "./webhooks.repo";
import type { WebhookView } from "./webhooks.repo";
import type { CreateWebhookBody, RotateSecretBody, UpdateWebhookBody, Webhook } from "./webhooks.routes";

const DEFAULT_OVERLAP_SECONDS = 24 * 3600;

export interface WebhookDeps {
  db: Db;
  settings: WebhookSettings;
  /** `WEBHOOK_SECRET_KEY`: encrypts signing secrets at rest. */
  secretKey: string;
  accountId: string;
  audit: AuditContext;
  now: number;
}

/** A webhook just written has no attempts yet. */
const noHistory = { lastAttemptAt: null, lastAttemptStatus: null, lastAttemptSucceeded: null, lastSucceededAttemptAt: null };

const latest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

export function toWebhook(row: WebhookView): z.infer<typeof Webhook> {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    filter: row.filter ? (JSON.parse(row.filter) as FilterCondition[]) : null,
    description: row.description,
    status: row.status as "active" | "disabled",
    disabledReason: row.disabledReason,
    lastSuccessAt: isoOrNull(latest(row.lastSuccessAt, row.lastSucceededAttemptAt)),
    lastAttempt:
      row.lastAttemptAt === null
        ? null
        : { at: iso(row.lastAttemptAt), status: row.lastAttemptStatus, succeeded: Boolean(row.lastAttemptSucceeded) },
    failingSince: isoOrNull(row.failingSince),
    previousSecretExpiresAt: isoOrNull(row.previousSecretExpiresAt),
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

const audited = ({ url, events, filter, status, description }: z.infer<typeof Webhook>) => ({
  url,
  events,
  filter,
  status,
  description,
});

/** 400 `invalid_webhook_url` with the reason, for registration and every URL change. */
export function assertSafeUrl(url: string, settings: WebhookSettings) {
  const verdict = checkWebhookUrl(url, { allowPrivate: settings.allowPrivateUrls, denyHosts: settings.denyHosts });
  if (!verdict.ok) {
    throw new ApiError("invalid_webhook_url", `This webhook URL is not allowed: ${verdict.reason}`, {
      path: "url",
      reason: verdict.reason,
    });
  }
}

export async function createWebhook(deps: WebhookDeps, input: z.infer<typeof CreateWebhookBody>) {
  const { db, settings, accountId, now } = deps;
  assertSafeUrl(input.url, settings);
  const id = newId("wh", now);
  const secret = input.secret ?? generateWebhookSecret();
  const row: WebhookRow = {
    id,
    accountId,
    url: input.url,
    events: JSON.stringify([...new Set(input.events)]),
    filter: input.filter ? JSON.stringify(input.filter) : null,
    description: input.description ?? null,
    status: "active",
    disabledReason: null,
    secret: await encryptSecret(secret, deps.secretKey, id),
    previousSecret: null,
    previousSecretExpiresAt: null,
    failingSince: null,
    lastSuccessAt: null,
    createdAt: now,
    updatedAt: now,
  };
  const webhook = toWebhook({ ...row, ...noHistory });
  const audit = auditRow(deps.audit, accountId, "webhook.created", { type: "webhook", id, name: row.url }, diff(null, audited(webhook)), now);
  if (!(await repo.insertWebhookWithinLimit(db, row, settings.maxPerAccount, audit))) {
    throw new ApiError("conflict", `This account already has ${settings.maxPerAccount} webhooks, the most allowed; delete one first`, {
      maxWebhooks: settings.maxPerAccount,
    });
  }
  forgetTargets(accountId);
  return { webhook, secret };
}

export async function listWebhooks(deps: WebhookDeps, limit: number, cursor: string | undefined) {
  const { items, nextCursor } = page(await repo.listWebhooks(deps.db, deps.accountId, limit + 1, cursor), limit);
  return { webhooks: items.map(toWebhook), nextCursor };
}

const load = async (deps: WebhookDeps, id: string) => found(await repo.getWebhook(deps.db, deps.accountId, id), "Webhook");

export async function getWebhook(deps: WebhookDeps, id: string) {
  return toWebhook(await load(deps, id));
}

/** Applies `changes` with an audit entry (`action`), one batch; answers the webhook as it now is. */
async function changeWebhook(deps: WebhookDeps, id: string, action: string, changes: Partial<WebhookRow>) {
  const before = await load(deps, id);
  const defined = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
  const after: WebhookView = { ...before, ...defined, updatedAt: Math.max(deps.now, before.updatedAt + 1) };
  const view = toWebhook(after);
  const changed = diff(audited(toWebhook(before)), audited(view));
  const audit = auditRow(deps.audit, deps.accountId, action, { type: "webhook", id, name: after.url }, changed, deps.now);
  if (!(await repo.updateWebhook(deps.db, deps.accountId, id, { ...changes, updatedAt: after.updatedAt }, audit))) {
    throw new ApiError("not_found", "Webhook not found");
  }
  forgetTargets(deps.accountId);
  return view;
}

export async function updateWebhook(deps: WebhookDeps, id: string, input: z.infer<typeof UpdateWebhookBody>) {
  if (input.url !== undefined) assertSafeUrl(input.url, deps.settings);
  return changeWebhook(deps, id, "webhook.updated", {
    url: input.url,
    events: input.events && JSON.stringify([...new Set(input.events)]),
    filter: input.filter === undefined ? undefined : input.filter && JSON.stringify(input.filter),
    description: input.description,
    status: input.status,
    // Enabling by hand clears the reason and restarts the failure clock.
    ...(input.status === "active" ? { disabledReason: null, failingSince: null } : {}),
    ...(input.status === "disabled" ? { disabledReason: "disabled by hand" } : {}),
  });
}

export async function deleteWebhook(deps: WebhookDeps, id: string) {
  const row = await load(deps, id);
  const audit = auditRow(deps.audit, deps.accountId, "webhook.deleted", { type: "webhook", id, name: row.url }, null, deps.now);
  if (!(await repo.deleteWebhook(deps.db, deps.accountId, id, audit))) throw new ApiError("not_found", "Webhook not found");
  forgetTargets(deps.accountId);
}

export async function revealSecret(deps: WebhookDeps, id: string) {
  const row = await load(deps, id);
  return decryptSecret(row.secret, deps.secretKey, row.id);
}

/** A new secret; the old one keeps signing alongside it until the overlap ends. */
export async function rotateSecret(deps: WebhookDeps, id: string, input: Partial<z.infer<typeof RotateSecretBody>>) {
  const row = await load(deps, id);
  const overlap = input.overlapSeconds ?? DEFAULT_OVERLAP_SECONDS;
  const secret = input.secret ?? generateWebhookSecret();
  const webhook = await changeWebhook(deps, id, "webhook.secret_rotated", {
    secret: await encryptSecret(secret, deps.secretKey, id),
    previousSecret: overlap > 0 ? row.secret : null,
    previousSecretExpiresAt: overlap > 0 ? deps.now + overlap * 1000 : null,
  });
  return { webhook, secret };
}

/**
 * Keyhook disables webhooks itself (410 Gone, or no success for too long): each with its audit
 * entry under the system actor and the failed deliveries that end with it, then `webhook.disabled`
 * is published to the account's other webhooks. A webhook that was no longer active is left alone.
 */
export async function disableWebhooks(deps: { db: Db; queue: Queue; now: number }, disablings: Disabling[]) {
  const { db, now } = deps;
  const ctx: AuditContext = { actor: SYSTEM_ACTOR, onBehalfOf: null, ip: null, userAgent: null, requestId: null };
  for (const { webhook, reason, deliveryIds } of disablings) {
    const updatedAt = Math.max(now, webhook.updatedAt + 1);
    const changes = { status: { before: "active", after: "disabled" }, disabledReason: { before: webhook.disabledReason, after: reason } };
    const target = { type: "webhook", id: webhook.id, name: webhook.url };
    const audit = auditRow(ctx, webhook.accountId, "webhook.disabled", target, changes, now);
    const disabled = await repo.disableWebhook(db, webhook, reason, updatedAt, audit, deliveryIds);
    forgetTargets(webhook.accountId);
    if (!disabled) continue;
    await publishEvent(
      { db, queue: deps.queue, accountId: webhook.accountId, now },
      { type: "webhook.disabled", entity: { id: webhook.id, url: webhook.url, reason } },
    );
  }
}

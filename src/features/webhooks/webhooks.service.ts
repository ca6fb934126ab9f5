import type { z } from "@hono/zod-openapi";
import type { WebhookSettings } from "../../config";
import type { WebhookRow } from "../../db/schema";
import { type Caller, SYSTEM_AUDIT } from "../../lib/caller";
import { newId } from "../../lib/encoding";
import { ApiError, uniqueWrite, validationError } from "../../lib/errors";
import { found, iso, isoOrNull, page } from "../../lib/schemas";
import { decryptSecret, encryptSecret } from "../../lib/secret-box";
import type { Platform } from "../../platform";
import { auditRow, diff } from "../audit/audit.service";
import type { Disabling } from "../deliveries/group-commit";
import { markFailed } from "../deliveries/pipeline.repo";
import type { EventsService } from "../events/events.service";
import { openHeaders, sealHeaders } from "./custom-headers";
import { generateWebhookSecret, invalidSigningKey, type SignatureScheme, schemeOf, verificationKey } from "./signing";
import { forgetTargets } from "./targets";
import { checkWebhookUrl } from "./url-safety";
import * as repo from "./webhooks.repo";
import type { CreateWebhookBody, RotateSecretBody, UpdateWebhookBody, Webhook } from "./webhooks.schemas";

const DEFAULT_OVERLAP_SECONDS = 24 * 3600;

function toWebhook(row: WebhookRow, headerNames: string[]): z.infer<typeof Webhook> {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    filter: row.filter,
    description: row.description,
    status: row.status as "active" | "disabled",
    disabledReason: row.disabledReason,
    lastSuccessAt: isoOrNull(row.lastSuccessAt),
    lastAttempt:
      row.lastAttemptAt === null
        ? null
        : { at: iso(row.lastAttemptAt), status: row.lastAttemptStatus, succeeded: Boolean(row.lastAttemptSucceeded) },
    failingSince: isoOrNull(row.failingSince),
    signatureScheme: row.signatureScheme as SignatureScheme,
    headerNames,
    throttle: row.throttle,
    timeoutMs: row.timeoutMs,
    deliveryFormat: row.deliveryFormat as "envelope" | "raw",
    uid: row.uid,
    channels: row.channels,
    metadata: row.metadata ?? {},
    previousSecretExpiresAt: isoOrNull(row.previousSecretExpiresAt),
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

const audited = ({
  url,
  events,
  filter,
  status,
  description,
  signatureScheme,
  headerNames,
  throttle,
  timeoutMs,
  deliveryFormat,
}: z.infer<typeof Webhook>) => ({
  url,
  signatureScheme,
  events,
  filter,
  status,
  description,
  headerNames,
  throttle,
  timeoutMs,
  deliveryFormat,
});

/** A write refused by the unique `(account, uid)` index is 409, naming the uid. */
const uniqueUid = <T>(write: Promise<T>, uid: string | null | undefined) =>
  uniqueWrite(
    write,
    "webhooks.account_id, webhooks.uid",
    () => new ApiError("conflict", "Another webhook of this account has this uid", { uid }),
  );

/** 400 `invalid_webhook_url` with the reason, for registration and every URL change. */
function assertSafeUrl(url: string, settings: WebhookSettings) {
  const verdict = checkWebhookUrl(url, { allowPrivate: settings.allowPrivateUrls, denyHosts: settings.denyHosts });
  if (!verdict.ok) {
    throw new ApiError("invalid_webhook_url", `This webhook URL is not allowed: ${verdict.reason}`, {
      path: "url",
      reason: verdict.reason,
    });
  }
}

/**
 * The secret a create or rotation signs with: the caller's own (its form must fit the scheme asked
 * for, and a `whsk_` key must be whole), or a new one of the scheme.
 */
async function secretFor(input: { secret?: string; signatureScheme?: SignatureScheme }, fallback: SignatureScheme) {
  if (input.secret === undefined) return generateWebhookSecret(input.signatureScheme ?? fallback);
  const scheme = schemeOf(input.secret);
  if (input.signatureScheme !== undefined && input.signatureScheme !== scheme) {
    const message =
      input.signatureScheme === "v1a"
        ? "a v1a webhook signs with an Ed25519 key: give a whsk_… key, or none to have one made"
        : "a whsk_… key signs v1a: give a whsec_… secret for v1, or none to have one made";
    throw validationError([{ path: ["secret"], message }]);
  }
  const invalid = scheme === "v1a" ? await invalidSigningKey(input.secret) : null;
  if (invalid) throw validationError([{ path: ["secret"], message: invalid }]);
  return input.secret;
}

/** 400 when an endpoint's own timeout is not below the deployment's. */
function assertTimeout(timeoutMs: number | null | undefined, settings: WebhookSettings) {
  if (timeoutMs != null && timeoutMs > settings.timeoutMs) {
    throw validationError([
      { path: ["timeoutMs"], message: `must be at most the deployment's timeout, ${settings.timeoutMs} ms` },
    ]);
  }
}

export interface WebhooksDeps {
  events: () => EventsService;
}

/** Webhook endpoints: subscriptions, their signing secrets (encrypted at rest), and their disabling. */
export function createWebhooksService(platform: Platform, deps: WebhooksDeps) {
  const { db, now } = platform;
  const settings = platform.settings.webhooks;
  const secretKey = platform.secrets.webhookKey;

  const load = async (caller: Caller, id: string) => found(await repo.getWebhook(db, caller.accountId, id), "Webhook");

  /** The custom headers of a row, opened (`{}` for none). */
  const headersOf = async (row: Pick<WebhookRow, "id" | "headers">) =>
    row.headers === null ? {} : openHeaders(row.headers, secretKey, row.id);
  const view = async (row: WebhookRow) => toWebhook(row, Object.keys(await headersOf(row)));
  /** What an input's `headers` stores: sealed, or null for none. */
  const sealed = async (id: string, headers: Record<string, string> | null) =>
    headers === null || Object.keys(headers).length === 0 ? null : sealHeaders(headers, secretKey, id);

  /** Applies `changes` with an audit entry (`action`), one batch; answers the webhook as it now is. */
  async function change(caller: Caller, id: string, action: string, changes: Partial<WebhookRow>, loaded?: WebhookRow) {
    const at = now();
    const before = loaded ?? (await load(caller, id));
    const defined = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
    const after: WebhookRow = { ...before, ...defined, updatedAt: Math.max(at, before.updatedAt + 1) };
    const shown = await view(after);
    const changed = diff(audited(await view(before)), audited(shown));
    const audit = auditRow(
      caller.audit,
      caller.accountId,
      action,
      { type: "webhook", id, name: after.url },
      changed,
      at,
    );
    const written = repo.updateWebhook(db, caller.accountId, id, { ...changes, updatedAt: after.updatedAt }, audit);
    if (!(await uniqueUid(written, changes.uid))) {
      throw new ApiError("not_found", "Webhook not found");
    }
    forgetTargets(caller.accountId);
    return shown;
  }

  return {
    async create(caller: Caller, input: z.infer<typeof CreateWebhookBody>) {
      const at = now();
      assertSafeUrl(input.url, settings);
      assertTimeout(input.timeoutMs, settings);
      const id = newId("wh", at);
      const secret = await secretFor(input, "v1");
      const row: WebhookRow = {
        id,
        accountId: caller.accountId,
        url: input.url,
        events: [...new Set(input.events)],
        filter: input.filter ?? null,
        description: input.description ?? null,
        status: "active",
        disabledReason: null,
        secret: await encryptSecret(secret, secretKey, id),
        signatureScheme: schemeOf(secret),
        previousSecret: null,
        previousSecretExpiresAt: null,
        headers: await sealed(id, input.headers ?? null),
        throttle: input.throttle ?? null,
        timeoutMs: input.timeoutMs ?? null,
        deliveryFormat: input.deliveryFormat ?? "envelope",
        uid: input.uid ?? null,
        channels: input.channels && input.channels.length > 0 ? [...new Set(input.channels)] : null,
        metadata: input.metadata ?? null,
        failingSince: null,
        lastSuccessAt: null,
        lastAttemptAt: null,
        lastAttemptStatus: null,
        lastAttemptSucceeded: null,
        createdAt: at,
        updatedAt: at,
      };
      const webhook = toWebhook(row, Object.keys(input.headers ?? {}));
      const target = { type: "webhook", id, name: row.url };
      const audit = auditRow(
        caller.audit,
        caller.accountId,
        "webhook.created",
        target,
        diff(null, audited(webhook)),
        at,
      );
      if (!(await uniqueUid(repo.insertWebhookWithinLimit(db, row, settings.maxPerAccount, audit), row.uid))) {
        throw new ApiError(
          "conflict",
          `This account already has ${settings.maxPerAccount} webhooks, the most allowed; delete one first`,
          {
            maxWebhooks: settings.maxPerAccount,
          },
        );
      }
      forgetTargets(caller.accountId);
      return { webhook, secret: await verificationKey(secret) };
    },

    async list(caller: Caller, limit: number, cursor: string | undefined) {
      const { items, nextCursor } = page(await repo.listWebhooks(db, caller.accountId, limit + 1, cursor), limit);
      return { webhooks: await Promise.all(items.map(view)), nextCursor };
    },

    /** A webhook's id from its id or its `uid` (Svix's API addresses endpoints by either). */
    async idOf(caller: Caller, idOrUid: string) {
      if (idOrUid.startsWith("wh_")) return idOrUid;
      const hit = await repo.webhookIdByUid(db, caller.accountId, idOrUid);
      if (!hit) throw new ApiError("not_found", "Webhook not found");
      return hit.id;
    },

    async get(caller: Caller, id: string) {
      return view(await load(caller, id));
    },

    /** The custom headers, values and all (`webhooks:read`, like the secret). */
    async headers(caller: Caller, id: string) {
      return headersOf(await load(caller, id));
    },

    /** An active webhook of the caller's account, for sending to it; 409 when it is disabled. */
    async active(caller: Caller, id: string) {
      const webhook = await load(caller, id);
      if (webhook.status !== "active") {
        throw new ApiError("conflict", "This webhook is disabled; enable it before sending to it", {
          status: webhook.status,
        });
      }
      return webhook;
    },

    /** The ids of the account's active webhooks (a bulk replay). */
    activeIds: (caller: Caller) => repo.activeWebhookIds(db, caller.accountId),

    async update(caller: Caller, id: string, input: z.infer<typeof UpdateWebhookBody>) {
      if (input.url !== undefined) assertSafeUrl(input.url, settings);
      assertTimeout(input.timeoutMs, settings);
      return change(caller, id, "webhook.updated", {
        headers: input.headers === undefined ? undefined : await sealed(id, input.headers),
        throttle: input.throttle,
        timeoutMs: input.timeoutMs,
        deliveryFormat: input.deliveryFormat,
        uid: input.uid,
        channels:
          input.channels === undefined ? undefined : input.channels?.length ? [...new Set(input.channels)] : null,
        metadata: input.metadata,
        url: input.url,
        events: input.events && [...new Set(input.events)],
        filter: input.filter,
        description: input.description,
        status: input.status,
        // Enabling by hand clears the reason and restarts the failure clock.
        ...(input.status === "active" ? { disabledReason: null, failingSince: null } : {}),
        ...(input.status === "disabled" ? { disabledReason: "disabled by hand" } : {}),
      });
    },

    async remove(caller: Caller, id: string) {
      const row = await load(caller, id);
      const at = now();
      const audit = auditRow(
        caller.audit,
        caller.accountId,
        "webhook.deleted",
        { type: "webhook", id, name: row.url },
        null,
        at,
      );
      if (!(await repo.deleteWebhook(db, caller.accountId, id, audit, at)))
        throw new ApiError("not_found", "Webhook not found");
      forgetTargets(caller.accountId);
    },

    async secret(caller: Caller, id: string) {
      const row = await load(caller, id);
      return verificationKey(await decryptSecret(row.secret, secretKey, row.id));
    },

    /** A new secret; the old one keeps signing alongside it until the overlap ends. */
    async rotateSecret(caller: Caller, id: string, input: Partial<z.infer<typeof RotateSecretBody>>) {
      const row = await load(caller, id);
      const overlap = input.overlapSeconds ?? DEFAULT_OVERLAP_SECONDS;
      const secret = await secretFor(input, row.signatureScheme as SignatureScheme);
      const webhook = await change(
        caller,
        id,
        "webhook.secret_rotated",
        {
          secret: await encryptSecret(secret, secretKey, id),
          signatureScheme: schemeOf(secret),
          previousSecret: overlap > 0 ? row.secret : null,
          previousSecretExpiresAt: overlap > 0 ? now() + overlap * 1000 : null,
        },
        row,
      );
      return { webhook, secret: await verificationKey(secret) };
    },

    /**
     * Keyhook disables webhooks itself (410 Gone, or no success for too long): each with its audit
     * entry under the system actor and the failed deliveries that end with it, then
     * `webhook.disabled` is published to the account's other webhooks. A webhook that was no longer
     * active is left alone.
     */
    async disable(disablings: Disabling[]) {
      for (const { webhook, reason, deliveryIds } of disablings) {
        const at = now();
        const updatedAt = Math.max(at, webhook.updatedAt + 1);
        const changes = {
          status: { before: "active", after: "disabled" },
          disabledReason: { before: webhook.disabledReason, after: reason },
        };
        const target = { type: "webhook", id: webhook.id, name: webhook.url };
        const audit = auditRow(SYSTEM_AUDIT, webhook.accountId, "webhook.disabled", target, changes, at);
        const disabled = await repo.disableWebhook(db, webhook, reason, updatedAt, audit);
        // The deliveries that ended with it, even if someone disabled it first.
        await markFailed(db, deliveryIds, updatedAt);
        forgetTargets(webhook.accountId);
        if (!disabled) continue;
        await deps
          .events()
          .publish(
            { accountId: webhook.accountId, webhooksVersion: null },
            { type: "webhook.disabled", entity: { id: webhook.id, url: webhook.url, reason } },
            { send: "queue" },
          );
      }
    },
  };
}

export type WebhooksService = ReturnType<typeof createWebhooksService>;

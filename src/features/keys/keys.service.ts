import type { z } from "@hono/zod-openapi";
import type { Db } from "../../db/client";
import type { ApiKeyRow } from "../../db/schema";
import { planLimits, type Settings } from "../../lib/config";
import { sha256Hex } from "../../lib/crypto";
import { newId } from "../../lib/encoding";
import { ApiError } from "../../lib/errors";
import { assertCanGrant } from "../../lib/permissions";
import { type Principal, toActor } from "../../lib/principal";
import { found, page } from "../../lib/schemas";
import { findAccount } from "../accounts/accounts.repo";
import { type AuditContext, auditRow, diff } from "../audit/audit.service";
import { findProfile } from "../profiles/profiles.repo";
import { USAGE_HISTORY_HOURS } from "../ratelimit/limits";
import type { ShardedCounter } from "../ratelimit/sharded-counter";
import { generateApiKey } from "./key-format";
import { forgetCachedKeys } from "./keys.auth";
import * as repo from "./keys.repo";
import type { CreateKeyBody, RotateKeyBody, UpdateKeyBody } from "./keys.routes";
import { auditedFields, toApiKey } from "./keys.view";

const DAY_MS = 86_400_000;

export interface KeyDeps {
  db: Db;
  settings: Settings;
  principal: Principal;
  accountId: string;
  audit: AuditContext;
  now: number;
  /** Publishes one of Keyhook's own events (`api_key.*`) after the change is stored. */
  emit: (type: string, entity: Record<string, unknown>) => Promise<void>;
}

/**
 * The scopes a key is stored with. Null (legacy full access) only when the key has no profile: a key
 * given a profile and no scopes holds exactly the profile's permissions, so its own scopes are [].
 */
function ownScopes(scopes: string[] | null, profileId: string | null): string[] | null {
  return scopes === null && profileId !== null ? [] : scopes;
}

/**
 * No one hands out rights they do not hold: null scopes mean full access (which needs `*`),
 * and a profile's permissions count as granted. The profile must be in the same account.
 */
async function checkGrant(deps: KeyDeps, scopes: string[] | null | undefined, profileId: string | null | undefined) {
  if (scopes !== undefined) assertCanGrant(deps.principal.permissions, scopes ?? ["*"]);
  if (!profileId) return;
  const profile = await findProfile(deps.db, deps.accountId, profileId);
  if (!profile) {
    throw new ApiError("validation_failed", "Invalid request: profileId: no such permission profile", [
      { path: "profileId", message: "no such permission profile" },
    ]);
  }
  assertCanGrant(deps.principal.permissions, JSON.parse(profile.permissions) as string[]);
}

function expiry(input: { expiresInDays?: number; expiresAt?: string | null }, now: number) {
  if (input.expiresInDays !== undefined) return now + input.expiresInDays * DAY_MS;
  if (input.expiresAt === undefined) return undefined;
  return input.expiresAt === null ? null : Date.parse(input.expiresAt);
}

const scopesJson = (scopes: string[] | null) => (scopes === null ? null : JSON.stringify([...new Set(scopes)]));
const parseScopes = (json: string | null) => (json === null ? null : (JSON.parse(json) as string[]));

async function loadKey(deps: KeyDeps, id: string) {
  return found(await repo.getKey(deps.db, deps.accountId, id), "API key");
}

export async function createKey(deps: KeyDeps, input: z.infer<typeof CreateKeyBody>) {
  const { db, settings, principal, accountId, now } = deps;
  const scopes = ownScopes(input.scopes ?? null, input.profileId ?? null);
  await checkGrant(deps, scopes, input.profileId);
  const account = found(await findAccount(db, accountId), "Account");
  const { maxActiveKeys } = planLimits(account.plan, account);
  const secret = generateApiKey(settings);
  const row: ApiKeyRow = {
    id: newId("key", now),
    accountId,
    name: input.name,
    hash: await sha256Hex(secret.key),
    previousHash: null,
    previousHashExpiresAt: null,
    prefix: secret.prefix,
    last4: secret.last4,
    scopes: scopesJson(scopes),
    profileId: input.profileId ?? null,
    enabled: true,
    rateLimitPerHour: input.rateLimitPerHour ?? null,
    metadata: JSON.stringify(input.metadata ?? {}),
    createdBy: JSON.stringify(toActor(principal)),
    createdAt: now,
    updatedAt: now,
    lastUsedAt: null,
    expiresAt: expiry(input, now) ?? null,
    revokedAt: null,
    expiringNotifiedAt: null,
  };
  const profile = input.profileId ? await findProfile(db, accountId, input.profileId) : undefined;
  const apiKey = toApiKey({ key: row, profilePermissions: profile?.permissions ?? null });
  const target = { type: "api_key", id: row.id, name: row.name };
  const audit = auditRow(deps.audit, accountId, "api_key.created", target, diff(null, auditedFields(apiKey)), now);
  if (!(await repo.insertKeyWithinLimit(db, row, maxActiveKeys, now, audit))) {
    throw new ApiError(
      "key_limit_reached",
      `This account already has ${maxActiveKeys} active API keys, the most its plan allows; revoke one first`,
      { maxActiveKeys },
    );
  }
  await deps.emit("api_key.created", apiKey);
  return { apiKey, key: secret.key };
}

export async function listKeys(deps: KeyDeps, limit: number, cursor: string | undefined) {
  const { items, nextCursor } = page(
    (await repo.listKeys(deps.db, deps.accountId, limit + 1, cursor)).map(toApiKey),
    limit,
  );
  return { apiKeys: items, nextCursor };
}

export async function getKey(deps: KeyDeps, id: string) {
  return toApiKey(await loadKey(deps, id));
}

/**
 * Applies `changes` with its audit entry in one batch and answers the key as it now is. The new
 * `updatedAt` is unique per change, which is what the audit entry's guard checks for.
 */
async function changeKey(
  deps: KeyDeps,
  id: string,
  action: string,
  changes: Partial<ApiKeyRow>,
  loaded?: repo.KeyWithProfile,
) {
  const before = loaded ?? (await loadKey(deps, id));
  const defined = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
  const key: ApiKeyRow = { ...before.key, ...defined, updatedAt: Math.max(deps.now, before.key.updatedAt + 1) };
  const profilePermissions =
    key.profileId === before.key.profileId
      ? before.profilePermissions
      : ((key.profileId && (await findProfile(deps.db, deps.accountId, key.profileId))?.permissions) ?? null);
  const after = toApiKey({ key, profilePermissions });
  const changed = diff(auditedFields(toApiKey(before)), auditedFields(after));
  const audit = auditRow(deps.audit, deps.accountId, action, { type: "api_key", id, name: key.name }, changed, deps.now);
  if (!(await repo.updateKey(deps.db, deps.accountId, id, { ...changes, updatedAt: key.updatedAt }, audit))) {
    throw new ApiError("not_found", "API key not found");
  }
  forgetCachedKeys();
  await deps.emit(action, changes.revokedAt ? { id, name: key.name } : after);
  return after;
}

export async function updateKey(deps: KeyDeps, id: string, input: z.infer<typeof UpdateKeyBody>) {
  const before = await loadKey(deps, id);
  const profileId = input.profileId === undefined ? before.key.profileId : input.profileId;
  const current = input.scopes === undefined ? parseScopes(before.key.scopes) : input.scopes;
  // Giving a legacy full-access key a profile narrows it to the profile, as creating it so would.
  const scopes = ownScopes(current, profileId);
  const scopesChange = input.scopes === undefined && scopes === current ? undefined : scopes;
  await checkGrant(deps, scopesChange, input.profileId);
  const expiresAt = expiry(input, deps.now);
  return changeKey(deps, id, "api_key.updated", {
    // A new expiry earns a new `api_key.expiring` notice.
    expiringNotifiedAt: expiresAt === undefined ? undefined : null,
    name: input.name,
    scopes: scopesChange === undefined ? undefined : scopesJson(scopesChange),
    profileId: input.profileId,
    expiresAt,
    rateLimitPerHour: input.rateLimitPerHour,
    metadata: input.metadata && JSON.stringify(input.metadata),
    enabled: input.enabled,
  }, before);
}

/** Immediate and permanent: the key record is read from D1 on every request, so the next one is 401. */
export async function revokeKey(deps: KeyDeps, id: string) {
  await changeKey(deps, id, "api_key.revoked", { revokedAt: deps.now });
}

/** A new secret for the same record; the old one keeps working for `gracePeriodSeconds`. */
export async function rotateKey(deps: KeyDeps, id: string, input: Partial<z.infer<typeof RotateKeyBody>>) {
  const { key: current } = await loadKey(deps, id);
  const grace = input.gracePeriodSeconds ?? 0;
  const secret = generateApiKey(deps.settings);
  const apiKey = await changeKey(deps, id, "api_key.rotated", {
    hash: await sha256Hex(secret.key),
    prefix: secret.prefix,
    last4: secret.last4,
    previousHash: grace > 0 ? current.hash : null,
    previousHashExpiresAt: grace > 0 ? deps.now + grace * 1000 : null,
  });
  return { apiKey, key: secret.key };
}

/** Hourly request counts of the last 48 hours, from the rate counters (which expire on their own). */
export async function keyUsage(deps: KeyDeps, counter: ShardedCounter, id: string) {
  await loadKey(deps, id);
  const windows = await counter.history(id, USAGE_HISTORY_HOURS, deps.now);
  return { keyId: id, usage: windows.map((w) => ({ hour: new Date(w.start).toISOString(), requests: w.count })) };
}

import type { z } from "@hono/zod-openapi";
import type { Db } from "../../db/client";
import type { ApiKeyRow } from "../../db/schema";
import { planLimits, type Settings } from "../../lib/config";
import { sha256Hex } from "../../lib/crypto";
import { newId } from "../../lib/encoding";
import { ApiError } from "../../lib/errors";
import { missingPermissions } from "../../lib/permissions";
import { type Principal, toActor } from "../../lib/principal";
import { found, iso, isoOrNull, page } from "../../lib/schemas";
import { findAccount } from "../accounts/accounts.repo";
import { generateApiKey } from "./key-format";
import * as repo from "./keys.repo";
import type { ApiKey, CreateKeyBody, RotateKeyBody, UpdateKeyBody } from "./keys.routes";

const DAY_MS = 86_400_000;

/** What the API shows of a key: never the secret, never its hash. */
export function toApiKey(row: ApiKeyRow): z.infer<typeof ApiKey> {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    last4: row.last4,
    scopes: row.scopes === null ? null : (JSON.parse(row.scopes) as string[]),
    enabled: row.enabled,
    rateLimitPerHour: row.rateLimitPerHour,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    createdBy: JSON.parse(row.createdBy) as z.infer<typeof ApiKey>["createdBy"],
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    lastUsedAt: isoOrNull(row.lastUsedAt),
    expiresAt: isoOrNull(row.expiresAt),
  };
}

/** No one hands out rights they do not hold: omitted scopes mean full access, which needs `*`. */
function assertCanGrant(principal: Principal, scopes: string[] | null) {
  const missing = missingPermissions(principal.permissions, scopes ?? ["*"]);
  if (missing.length > 0) {
    throw new ApiError("insufficient_scope", `You cannot grant permissions you do not hold: ${missing.join(", ")}`, {
      missing,
    });
  }
}

function expiry(input: { expiresInDays?: number; expiresAt?: string | null }, now: number) {
  if (input.expiresInDays !== undefined) return now + input.expiresInDays * DAY_MS;
  if (input.expiresAt === undefined) return undefined;
  return input.expiresAt === null ? null : Date.parse(input.expiresAt);
}

export interface KeyDeps {
  db: Db;
  settings: Settings;
  principal: Principal;
  accountId: string;
  now: number;
}

export async function createKey(deps: KeyDeps, input: z.infer<typeof CreateKeyBody>) {
  const { db, settings, principal, accountId, now } = deps;
  assertCanGrant(principal, input.scopes ?? null);
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
    scopes: input.scopes === undefined ? null : JSON.stringify([...new Set(input.scopes)]),
    enabled: true,
    rateLimitPerHour: input.rateLimitPerHour ?? null,
    metadata: JSON.stringify(input.metadata ?? {}),
    createdBy: JSON.stringify(toActor(principal)),
    createdAt: now,
    updatedAt: now,
    lastUsedAt: null,
    expiresAt: expiry(input, now) ?? null,
    revokedAt: null,
  };
  if (!(await repo.insertKeyWithinLimit(db, row, maxActiveKeys, now))) {
    throw new ApiError(
      "key_limit_reached",
      `This account already has ${maxActiveKeys} active API keys, the most its plan allows; revoke one first`,
      { maxActiveKeys },
    );
  }
  return { apiKey: toApiKey(row), key: secret.key };
}

export async function listKeys(deps: KeyDeps, limit: number, cursor: string | undefined) {
  const { items, nextCursor } = page(await repo.listKeys(deps.db, deps.accountId, limit + 1, cursor), limit);
  return { apiKeys: items.map(toApiKey), nextCursor };
}

export async function getKey(deps: KeyDeps, id: string) {
  return toApiKey(found(await repo.getKey(deps.db, deps.accountId, id), "API key"));
}

export async function updateKey(deps: KeyDeps, id: string, input: z.infer<typeof UpdateKeyBody>) {
  const { db, principal, accountId, now } = deps;
  if (input.scopes !== undefined) assertCanGrant(principal, input.scopes);
  const row = await repo.updateKey(db, accountId, id, {
    name: input.name,
    scopes: input.scopes === undefined ? undefined : input.scopes && JSON.stringify([...new Set(input.scopes)]),
    expiresAt: expiry(input, now),
    rateLimitPerHour: input.rateLimitPerHour,
    metadata: input.metadata && JSON.stringify(input.metadata),
    enabled: input.enabled,
    updatedAt: now,
  });
  return toApiKey(found(row, "API key"));
}

/** Immediate and permanent: the key record is read from D1 on every request, so the next one is 401. */
export async function revokeKey(deps: KeyDeps, id: string) {
  const { db, accountId, now } = deps;
  found(await repo.updateKey(db, accountId, id, { revokedAt: now, updatedAt: now }), "API key");
}

/** A new secret for the same record; the old one keeps working for `gracePeriodSeconds`. */
export async function rotateKey(deps: KeyDeps, id: string, input: Partial<z.infer<typeof RotateKeyBody>>) {
  const { db, settings, accountId, now } = deps;
  const current = found(await repo.getKey(db, accountId, id), "API key");
  const grace = input.gracePeriodSeconds ?? 0;
  const secret = generateApiKey(settings);
  const row = await repo.updateKey(db, accountId, id, {
    hash: await sha256Hex(secret.key),
    prefix: secret.prefix,
    last4: secret.last4,
    previousHash: grace > 0 ? current.hash : null,
    previousHashExpiresAt: grace > 0 ? now + grace * 1000 : null,
    updatedAt: now,
  });
  return { apiKey: toApiKey(found(row, "API key")), key: secret.key };
}

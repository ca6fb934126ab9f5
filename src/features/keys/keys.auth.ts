import type { Db } from "../../db/client";
import type { AccountRow, ApiKeyRow } from "../../db/schema";
import { planLimits, type PlanLimits, type Settings } from "../../lib/config";
import { sha256Hex } from "../../lib/crypto";
import { ApiError } from "../../lib/errors";
import type { Principal } from "../../lib/principal";
import { isWellFormedApiKey } from "./key-format";
import { findKeyForAuth, touchLastUsed } from "./keys.repo";

/** Later uses refresh `lastUsedAt` at most this often per key: no D1 write on every request. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** Per-isolate memory of the last `lastUsedAt` write, so concurrent requests do not all write. */
const lastUsedWritten = new Map<string, number>();

export type KeyFailure = "MALFORMED" | "NOT_FOUND" | "REVOKED" | "EXPIRED" | "DISABLED" | "PLAN_BLOCKED";

export type KeyCheck =
  | { ok: true; key: ApiKeyRow; account: AccountRow; limits: PlanLimits; permissions: string[] }
  | { ok: false; code: KeyFailure; key?: ApiKeyRow };

/** A key's own scopes (null = legacy full access) plus its profile's permissions. */
export function keyPermissions(scopes: string | null, profilePermissions: string | null): string[] {
  if (scopes === null) return ["*"];
  const own = JSON.parse(scopes) as string[];
  const fromProfile = profilePermissions ? (JSON.parse(profilePermissions) as string[]) : [];
  return [...new Set([...own, ...fromProfile])];
}

/** Checks a presented key: checksum first (no I/O), then one indexed D1 read. */
export async function checkApiKey(db: Db, settings: Settings, credential: string, now: number): Promise<KeyCheck> {
  if (!isWellFormedApiKey(credential, settings)) return { ok: false, code: "MALFORMED" };
  const hash = await sha256Hex(credential);
  const found = await findKeyForAuth(db, hash);
  if (!found) return { ok: false, code: "NOT_FOUND" };
  const { key, account, profilePermissions } = found;
  if (key.revokedAt !== null) return { ok: false, code: "REVOKED", key };
  if (key.hash !== hash && (key.previousHashExpiresAt ?? 0) <= now) return { ok: false, code: "NOT_FOUND" };
  if (key.expiresAt !== null && key.expiresAt <= now) return { ok: false, code: "EXPIRED", key };
  if (!key.enabled) return { ok: false, code: "DISABLED", key };
  const limits = planLimits(account.plan, account);
  if (!limits.apiAccess) return { ok: false, code: "PLAN_BLOCKED", key };
  return { ok: true, key, account, limits, permissions: keyPermissions(key.scopes, profilePermissions) };
}

const failures: Record<KeyFailure, () => ApiError> = {
  MALFORMED: () => new ApiError("invalid_credentials", "Invalid API key"),
  NOT_FOUND: () => new ApiError("invalid_credentials", "Invalid API key"),
  REVOKED: () => new ApiError("invalid_credentials", "Invalid API key"),
  EXPIRED: () => new ApiError("key_expired", "This API key has expired"),
  DISABLED: () => new ApiError("key_disabled", "This API key is disabled"),
  PLAN_BLOCKED: () =>
    new ApiError("plan_no_api_access", "This account's plan does not include API access; upgrade to use API keys"),
};

/**
 * Records `lastUsedAt`: the first use is awaited (so it shows at once); later ones go to
 * `waitUntil`, at most once a minute per key.
 */
export async function recordUse(db: Db, key: ApiKeyRow, now: number, waitUntil: (p: Promise<unknown>) => void) {
  const staleBefore = now - LAST_USED_RESOLUTION_MS;
  if (key.lastUsedAt === null) {
    await touchLastUsed(db, key.id, now, staleBefore);
    lastUsedWritten.set(key.id, now);
  } else if (key.lastUsedAt < staleBefore && (lastUsedWritten.get(key.id) ?? 0) < staleBefore) {
    if (lastUsedWritten.size > 10_000) lastUsedWritten.clear(); // bounded: it only saves writes
    lastUsedWritten.set(key.id, now);
    waitUntil(touchLastUsed(db, key.id, now, staleBefore));
  }
}

export interface KeyAuthentication {
  principal: Principal;
  rateLimitPerHour: number;
  key: ApiKeyRow;
}

/** Authenticates an API key or throws the matching 401/403. */
export async function authenticateApiKey(
  db: Db,
  settings: Settings,
  credential: string,
  now: number,
): Promise<KeyAuthentication> {
  const check = await checkApiKey(db, settings, credential, now);
  if (!check.ok) throw failures[check.code]();
  const { key, limits, permissions } = check;
  return {
    principal: { type: "api_key", id: key.id, name: key.name, accountId: key.accountId, permissions },
    rateLimitPerHour: key.rateLimitPerHour ?? limits.rateLimitPerHour,
    key,
  };
}

import type { Settings } from "../../config";
import type { Db } from "../../db/client";
import { sha256Hex } from "../../lib/crypto";
import type { VerifyCode } from "../../lib/errors";
import { IsolateMap, IsolateSet } from "../../lib/isolate-memory";
import { type PlanLimits, planLimits } from "../../lib/plans";
import { boundaryParams, effectiveRemaining } from "../keys/credits";
import { isWellFormedApiKey, looksLikeApiKey } from "../keys/key-format";
import {
  type AuthKey,
  type FoundKey,
  findAndSpend,
  refundCredits,
  type SpentCredits,
  touchLastUsed,
} from "./auth.repo";

/** Later uses refresh `lastUsedAt` at most this often per key: no D1 write on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** Per-isolate memory of the last `lastUsedAt` write, so concurrent requests do not all write. */
const lastUsedWritten = new IsolateMap<string, number>("keys lastUsedAt written", 10_000);

/** Bounded: a full map is emptied (it only saves writes; the SQL guard keeps them correct). */
function rememberWrite(keyId: string, now: number) {
  lastUsedWritten.set(keyId, now);
}

export type KeyFailure = Exclude<VerifyCode, "VALID" | "RATE_LIMITED" | "INSUFFICIENT_SCOPE">;

/** A key that passed every check of the lookup. */
export type FoundCheck = Extract<KeyCheck, { ok: true }>;

export type KeyCheck =
  | {
      ok: true;
      key: AuthKey;
      limits: PlanLimits;
      permissions: string[];
      /** The account's `webhooksVersion` as D1 has it now; null if the record came from the edge cache. */
      webhooksVersion: number | null;
      /** Credits already spent by the lookup itself (a key known to carry credits), and what is left. */
      spent: SpentCredits | null;
    }
  /** Refused at the lookup; `key` when one was found (revoked, expired, disabled, its plan). */
  | { ok: false; code: KeyFailure; key: AuthKey | null };

/**
 * A key's own scopes plus its profile's permissions. Full access (legacy) only for a key with
 * neither: a key with a profile and no scopes holds exactly the profile's permissions.
 */
export function keyPermissions(
  key: { scopes: string[] | null; profileId: string | null },
  profilePermissions: string[] | null,
): string[] {
  if (key.scopes === null && key.profileId === null) return ["*"];
  return [...new Set([...(key.scopes ?? []), ...(profilePermissions ?? [])])];
}

/** Where the hot path finds a key's record: the edge tier (this colo's cache, or the primary on a miss). */
export type KeyRecords = (hash: string) => Promise<{ found: FoundKey | undefined; hit: boolean }>;

/**
 * Hashes of keys this isolate has seen carry credits: their next request looks the key up and
 * spends in one statement (`findAndSpend`) instead of a read and then a write. Bounded.
 */
const creditHashes = new IsolateSet<string>("keys known to carry credits", 10_000);

/**
 * The checks a found key must pass, whichever statement found it. `fresh`: read from the primary
 * just now, so its account's `webhooksVersion` is current (a cached record's is not reported).
 */
function judge(found: FoundKey, hash: string, now: number, fresh: boolean): KeyCheck {
  const { key, account, profilePermissions } = found;
  if (key.revokedAt !== null) return { ok: false, code: "REVOKED", key };
  if (key.hash !== hash && (key.previousHashExpiresAt ?? 0) <= now) return { ok: false, code: "NOT_FOUND", key: null };
  if (key.expiresAt !== null && key.expiresAt <= now) return { ok: false, code: "EXPIRED", key };
  if (!key.enabled) return { ok: false, code: "DISABLED", key };
  const limits = planLimits(account.plan, account);
  if (!limits.apiAccess) return { ok: false, code: "PLAN_BLOCKED", key };
  const webhooksVersion = fresh ? account.webhooksVersion : null;
  return { ok: true, key, limits, permissions: keyPermissions(key, profilePermissions), webhooksVersion, spent: null };
}

/**
 * Checks a presented key: checksum first (no I/O), then one indexed D1 statement — the read (or
 * the opt-in cache), or, for a key known to carry credits and a `cost` above 0, the read and the
 * spend together.
 */
export async function checkApiKey(
  db: Db,
  settings: Settings,
  records: KeyRecords,
  credential: string,
  now: number,
  cost = 1,
): Promise<KeyCheck> {
  // The checksum is a fast refusal for keys shaped as Keyhook's; a key of any other shape (an
  // Unkey API's, imported or made with its own prefix) is found by its hash alone.
  if (looksLikeApiKey(credential, settings) && !isWellFormedApiKey(credential, settings)) {
    return { ok: false, code: "MALFORMED", key: null };
  }
  const hash = await sha256Hex(credential);
  if (cost > 0 && creditHashes.has(hash)) {
    const found = await findAndSpend(db, hash, cost, now, boundaryParams(now));
    if (found) {
      const check = judge(found, hash, now, true);
      if (!check.ok) {
        await refundCredits(db, found.key.id, cost);
        return check;
      }
      return { ...check, spent: found.key }; // its credit columns, as the spend left them
    }
    creditHashes.delete(hash); // not enough left, or not such a key any more: read to say why
  }
  const { found, hit } = await records(hash);
  if (!found) return { ok: false, code: "NOT_FOUND", key: null };
  // Worth spending in one statement next time only while there is something to spend.
  if (found.key.creditsRemaining !== null && (effectiveRemaining(found.key, now) ?? 0) >= Math.max(cost, 1)) {
    creditHashes.add(hash);
  }
  return judge(found, hash, now, !hit);
}

/**
 * Records `lastUsedAt` off the answer's path (`waitUntil`), at most once a minute per key and
 * isolate: a warm key's request makes no D1 call of its own.
 */
export function recordUse(db: Db, key: AuthKey, now: number, waitUntil: (p: Promise<unknown>) => void) {
  const staleBefore = now - LAST_USED_RESOLUTION_MS;
  // A cached record may say "never used" long after: this isolate's memory, and the SQL guard, know better.
  if ((key.lastUsedAt ?? 0) < staleBefore && (lastUsedWritten.get(key.id) ?? 0) < staleBefore) {
    rememberWrite(key.id, now);
    waitUntil(touchLastUsed(db, key.id, now, staleBefore).catch(() => undefined));
  }
}

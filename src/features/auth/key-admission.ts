import type { Settings } from "../../config";
import type { Db } from "../../db/client";
import type { VerifyCode } from "../../lib/errors";
import type { Log } from "../../lib/log";
import { missingPermissions } from "../../lib/permissions";
import { countVerification } from "../analytics/counter";
import type { Hit } from "../ratelimit/sharded-counter";
import type { AuthKey } from "./auth.repo";
import { announceCrossings, type PublishCrossing } from "./credit-alerts";
import { type Credits, refund, spend } from "./credit-spend";
import { checkApiKey, type FoundCheck, type KeyFailure, type KeyRecords, recordUse } from "./key-check";

/** What a key's admission decided, at the stage it was decided. */
export type KeyAdmission =
  | { ok: true; stage: "admitted"; check: FoundCheck; hit: Hit; limit: number; credits: Credits | null }
  /** Refused at the lookup: malformed, unknown, revoked, expired, disabled, its plan, or another account's. */
  | { ok: false; stage: "lookup"; code: KeyFailure; key: AuthKey | null }
  /** Refused once counted against its hourly limit: the limit, a missing scope, or no credits left. */
  | {
      ok: false;
      stage: "counted";
      code: Extract<VerifyCode, "RATE_LIMITED" | "INSUFFICIENT_SCOPE" | "USAGE_EXCEEDED">;
      check: FoundCheck;
      hit: Hit;
      limit: number;
      credits: Credits | null;
    };

export interface KeyAdmissionDeps {
  db: Db;
  settings: Settings;
  log: Log;
  waitUntil: (p: Promise<unknown>) => void;
  /** The key's hourly counter. */
  hit: (keyId: string, limit: number, now: number) => Promise<Hit>;
  publish: PublishCrossing;
  /** Where a key's record is read: the edge tier. */
  records: KeyRecords;
}

export interface KeyAdmissionOptions {
  scopes?: string[];
  /** The verifying caller's account (not the operator): another account's key is NOT_FOUND. */
  accountId?: string | null;
  cost?: number;
  /**
   * Which keys: `keyhook` (the default) — Keyhook's own, a key of an Unkey API is NOT_FOUND; or
   * `unkey` (`/v2`) — only keys of an Unkey API, checked in Unkey's order (permissions before any
   * rate limit, which applies only when the key has one) with `permitted` deciding the permissions.
   */
  audience?: "keyhook" | "unkey";
  permitted?: (keyPermissions: string[]) => boolean;
  /** Unkey's named rate limits, after the permissions and before credits: false refuses (`RATE_LIMITED`). */
  limited?: (key: AuthKey) => Promise<boolean>;
}

/** No counter: a key of an Unkey API without a rate limit is unlimited. */
const UNLIMITED: Hit = { allowed: true, limit: 0, remaining: 0, resetAt: 0 };

/**
 * A key, through every stage: check (checksum, one D1 read) → the caller's account → hourly limit →
 * scopes → credits spent → use recorded. Every outcome is counted for the analytics (in memory,
 * flushed later), in the key's account or the verifying caller's — never in another account.
 */
export async function admitKey(
  deps: KeyAdmissionDeps,
  key: string,
  now: number,
  opts: KeyAdmissionOptions = {},
): Promise<KeyAdmission> {
  const admission = await decide(deps, key, now, opts);
  const found = admission.stage === "lookup" ? admission.key : admission.check.key;
  const mine = found && (!opts.accountId || found.accountId === opts.accountId) ? found : null;
  const accountId = mine?.accountId ?? opts.accountId ?? null;
  if (accountId) {
    const outcome = admission.ok ? "VALID" : admission.code;
    countVerification(deps.db, deps.waitUntil, deps.log, { accountId, keyId: mine?.id ?? "", outcome }, now);
  }
  return admission;
}

async function decide(
  deps: KeyAdmissionDeps,
  key: string,
  now: number,
  opts: KeyAdmissionOptions,
): Promise<KeyAdmission> {
  const cost = opts.cost ?? 1;
  const check = await checkApiKey(deps.db, deps.settings, deps.records, key, now, cost);
  // Another account's key is not found, whatever its state: existence never leaks across accounts.
  if (opts.accountId && check.key && check.key.accountId !== opts.accountId) {
    if (check.ok && check.spent) await refund(deps.db, check, cost);
    return { ok: false, stage: "lookup", code: "NOT_FOUND", key: null };
  }
  // A key is one audience's: Keyhook's own credentials, or an Unkey API's customer keys (never both).
  const unkey = opts.audience === "unkey";
  if (check.key && (check.key.keyspaceId !== null) !== unkey) {
    if (check.ok && check.spent) await refund(deps.db, check, cost);
    return { ok: false, stage: "lookup", code: "NOT_FOUND", key: null };
  }
  if (!check.ok) return { ok: false, stage: "lookup", code: check.code, key: check.key };
  const own = check.key.rateLimitPerHour;
  const limit = unkey ? (own ?? 0) : (own ?? check.limits.rateLimitPerHour);
  const held = [...(check.key.scopes ?? []), ...(check.key.rolePermissions ?? [])];
  const denied = unkey && opts.permitted && !opts.permitted(held);
  const hit = denied || (unkey && own === null) ? UNLIMITED : await deps.hit(check.key.id, limit, now);
  const counted = { ok: false as const, stage: "counted" as const, check, hit, limit, credits: null };
  const refused = async (code: "RATE_LIMITED" | "INSUFFICIENT_SCOPE") => {
    if (check.spent) await refund(deps.db, check, cost);
    return { ...counted, code };
  };
  if (denied) return refused("INSUFFICIENT_SCOPE");
  if (!hit.allowed) return refused("RATE_LIMITED");
  if (unkey && opts.limited && !(await opts.limited(check.key))) return refused("RATE_LIMITED");
  if (opts.scopes && missingPermissions(check.permissions, opts.scopes).length > 0)
    return refused("INSUFFICIENT_SCOPE");
  const spent = await spend(deps.db, check, cost, now);
  if (!spent.ok) return { ...counted, code: "USAGE_EXCEEDED", credits: spent.credits };
  if (spent.after) announceCrossings(deps, check, spent.after, cost, now);
  // The spending statement recorded the use already.
  if (!(spent.credits && cost > 0)) recordUse(deps.db, check.key, now, deps.waitUntil);
  return { ok: true, stage: "admitted", check, hit, limit, credits: spent.credits };
}

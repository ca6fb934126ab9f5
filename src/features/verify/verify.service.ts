import type { z } from "@hono/zod-openapi";
import type { Db } from "../../db/client";
import type { Settings } from "../../lib/config";
import { missingPermissions } from "../../lib/permissions";
import { isoOrNull } from "../../lib/schemas";
import { checkApiKey, recordUse } from "../keys/keys.auth";
import type { ShardedCounter, WaitUntil } from "../ratelimit/sharded-counter";
import type { VERIFY_CODES, VerifyResult } from "./verify.routes";

export interface VerifyDeps {
  db: Db;
  settings: Settings;
  counter: ShardedCounter;
  /** null for the operator (any account); otherwise keys of other accounts are NOT_FOUND. */
  callerAccountId: string | null;
  now: number;
  waitUntil: WaitUntil;
}

type Result = z.infer<typeof VerifyResult>;

const empty = (code: (typeof VERIFY_CODES)[number]): Result => ({
  valid: false,
  code,
  keyId: null,
  accountId: null,
  name: null,
  scopes: null,
  ratelimit: null,
  expiresAt: null,
  metadata: null,
});

/**
 * The same checks as a key-authenticated request, answered as a verdict instead of an error.
 * A verify counts toward the key's hourly limit, exactly like a request made with it.
 */
export async function verifyKey(deps: VerifyDeps, key: string, scopes: string[] = []): Promise<Result> {
  const { db, settings, counter, callerAccountId, now } = deps;
  const check = await checkApiKey(db, settings, key, now);
  const row = check.key;
  if (row && callerAccountId !== null && row.accountId !== callerAccountId) return empty("NOT_FOUND");
  if (!check.ok) {
    if (!row || check.code === "MALFORMED" || check.code === "NOT_FOUND") return empty(check.code);
    return { ...empty(check.code), keyId: row.id, accountId: row.accountId, name: row.name };
  }
  const base: Result = {
    ...empty("VALID"),
    keyId: check.key.id,
    accountId: check.key.accountId,
    name: check.key.name,
    scopes: check.permissions,
    expiresAt: isoOrNull(check.key.expiresAt),
    metadata: JSON.parse(check.key.metadata) as Record<string, unknown>,
  };
  const limit = check.key.rateLimitPerHour ?? check.limits.rateLimitPerHour;
  const hit = await counter.hit(check.key.id, limit, now, deps.waitUntil);
  const ratelimit = { limit, remaining: hit.remaining, reset: Math.ceil(hit.resetAt / 1000) };
  if (!hit.allowed) return { ...base, code: "RATE_LIMITED", ratelimit };
  if (missingPermissions(check.permissions, scopes).length > 0) return { ...base, code: "INSUFFICIENT_SCOPE", ratelimit };
  await recordUse(db, check.key, now, deps.waitUntil);
  return { ...base, valid: true, ratelimit };
}

import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { type ApiKeyRow, accounts, apiKeys, permissionProfiles } from "../../db/schema";
import { memo } from "../../lib/memo";

/** The key columns the hot path reads (not the prefix, the audit fields or the timestamps it never uses). */
const authKeyColumns = {
  id: apiKeys.id,
  accountId: apiKeys.accountId,
  name: apiKeys.name,
  hash: apiKeys.hash,
  previousHashExpiresAt: apiKeys.previousHashExpiresAt,
  scopes: apiKeys.scopes,
  profileId: apiKeys.profileId,
  enabled: apiKeys.enabled,
  rateLimitPerHour: apiKeys.rateLimitPerHour,
  metadata: apiKeys.metadata,
  lastUsedAt: apiKeys.lastUsedAt,
  expiresAt: apiKeys.expiresAt,
  revokedAt: apiKeys.revokedAt,
};

function prepareFindKeyForAuth(db: Db) {
  const hash = sql.placeholder("hash");
  return (
    db
      .select({
        key: authKeyColumns,
        account: {
          plan: accounts.plan,
          maxActiveKeys: accounts.maxActiveKeys,
          rateLimitPerHour: accounts.rateLimitPerHour,
          webhooksVersion: accounts.webhooksVersion,
        },
        profilePermissions: permissionProfiles.permissions,
      })
      .from(apiKeys)
      .innerJoin(accounts, eq(accounts.id, apiKeys.accountId))
      .leftJoin(permissionProfiles, eq(permissionProfiles.id, apiKeys.profileId))
      // A deleted account's keys are refused from the deletion's first write on.
      .where(and(or(eq(apiKeys.hash, hash), eq(apiKeys.previousHash, hash)), isNull(accounts.deletedAt)))
      .prepare()
  );
}

/** A key as the hot path sees it. */
export type AuthKey = Pick<ApiKeyRow, keyof typeof authKeyColumns>;
export type FoundKey = NonNullable<Awaited<ReturnType<typeof findKeyForAuth>>>;

const findKeyStatements = new WeakMap<Db, ReturnType<typeof prepareFindKeyForAuth>>();

/**
 * The hot-path read: one indexed D1 query for the key (current or rotated-out secret), its account's
 * limits and its profile's permissions. Always read from D1 (unless the opt-in key cache is on) so
 * that a revoke, or a profile edit, takes effect on the very next request. The statement is built
 * once per isolate and only bound per request.
 */
export function findKeyForAuth(db: Db, hash: string) {
  return memo(findKeyStatements, db, () => prepareFindKeyForAuth(db)).get({ hash });
}

/** First use is written at once; later ones at most once per `staleBefore` window. */
export function touchLastUsed(db: Db, id: string, now: number, staleBefore: number) {
  return db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(and(eq(apiKeys.id, id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, staleBefore))))
    .run();
}

/**
 * A user token's account, read on every request with the permissions of its `profile_id` (so a
 * deleted account's tokens stop at once, and a profile's edits apply at once): undefined if the
 * account does not exist or was deleted; `permissions` null if there is no such profile.
 */
export function tokenAccount(db: Db, accountId: string, profileId: string | null) {
  return db
    .select({ permissions: permissionProfiles.permissions })
    .from(accounts)
    .leftJoin(
      permissionProfiles,
      and(eq(permissionProfiles.id, profileId ?? ""), eq(permissionProfiles.accountId, accounts.id)),
    )
    .where(and(eq(accounts.id, accountId), isNull(accounts.deletedAt)))
    .get();
}

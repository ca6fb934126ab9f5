import { and, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { accounts, apiKeys, type ApiKeyRow } from "../../db/schema";

/** Keys that count against `maxActiveKeys`: neither revoked nor expired (disabled ones count). */
const activeKeysOf = (accountId: string, now: number) => sql`(
  SELECT count(*) FROM ${apiKeys}
  WHERE ${apiKeys.accountId} = ${accountId} AND ${apiKeys.revokedAt} IS NULL
    AND (${apiKeys.expiresAt} IS NULL OR ${apiKeys.expiresAt} > ${now}))`;

/**
 * The hot-path read: one indexed D1 query for the key (current or rotated-out secret) and its account.
 * Always read from D1 so that a revoke takes effect on the very next request.
 */
export function findKeyForAuth(db: Db, hash: string) {
  return db
    .select({ key: apiKeys, account: accounts })
    .from(apiKeys)
    .innerJoin(accounts, eq(accounts.id, apiKeys.accountId))
    .where(or(eq(apiKeys.hash, hash), eq(apiKeys.previousHash, hash)))
    .get();
}

/**
 * Inserts a key unless that takes the account past `maxActiveKeys`. D1 has no BEGIN, so the insert
 * and a guarded delete run as one batch (a transaction): concurrent creates cannot overshoot.
 * Returns false when the limit refused it.
 */
export async function insertKeyWithinLimit(db: Db, row: ApiKeyRow, maxActiveKeys: number, now: number) {
  const [, removed] = await db.batch([
    db.insert(apiKeys).values(row),
    db
      .delete(apiKeys)
      .where(and(eq(apiKeys.id, row.id), sql`${activeKeysOf(row.accountId, now)} > ${maxActiveKeys}`))
      .returning({ id: apiKeys.id }),
  ]);
  return removed.length === 0;
}

const visible = (accountId: string, id: string) =>
  and(eq(apiKeys.id, id), eq(apiKeys.accountId, accountId), isNull(apiKeys.revokedAt));

export function getKey(db: Db, accountId: string, id: string) {
  return db.select().from(apiKeys).where(visible(accountId, id)).get();
}

/** Newest first; `cursor` is the last id of the previous page. */
export function listKeys(db: Db, accountId: string, limit: number, cursor?: string) {
  return db
    .select()
    .from(apiKeys)
    .where(
      and(eq(apiKeys.accountId, accountId), isNull(apiKeys.revokedAt), cursor ? lt(apiKeys.id, cursor) : undefined),
    )
    .orderBy(desc(apiKeys.id))
    .limit(limit)
    .all();
}

export async function updateKey(db: Db, accountId: string, id: string, changes: Partial<ApiKeyRow>) {
  const rows = await db.update(apiKeys).set(changes).where(visible(accountId, id)).returning();
  return rows[0];
}

/** First use is written at once; later ones at most once per `staleBefore` window (see auth middleware). */
export function touchLastUsed(db: Db, id: string, now: number, staleBefore: number) {
  return db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(and(eq(apiKeys.id, id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, staleBefore))))
    .run();
}

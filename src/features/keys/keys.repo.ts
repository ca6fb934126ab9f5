import { and, desc, eq, isNotNull, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { type ApiKeyRow, type AuditRow, apiKeys, permissionProfiles } from "../../db/schema";
import { insertAudit } from "../audit/audit.repo";

/**
 * Keys that count against `maxActiveKeys`: Keyhook's own, neither revoked nor expired (disabled
 * ones count). Keys of an Unkey API (`keyspace_id`) are the host's customers' and do not count.
 */
const activeKeysOf = (accountId: string, now: number) => sql`(
  SELECT count(*) FROM ${apiKeys}
  WHERE ${apiKeys.accountId} = ${accountId} AND ${apiKeys.revokedAt} IS NULL AND ${apiKeys.keyspaceId} IS NULL
    AND (${apiKeys.expiresAt} IS NULL OR ${apiKeys.expiresAt} > ${now}))`;

/** Of these hashes, those a key already has (current or rotated-out). */
export async function existingHashes(db: Db, hashes: readonly string[]) {
  const { results } = await db.$client
    .prepare(
      `SELECT hash AS h FROM api_keys WHERE hash IN (SELECT value FROM json_each(?1))
       UNION SELECT previous_hash FROM api_keys WHERE previous_hash IN (SELECT value FROM json_each(?1))`,
    )
    .bind(JSON.stringify(hashes))
    .all<{ h: string }>();
  return new Set(results.map((r) => r.h));
}

/**
 * Imported keys and one audit entry for the import, one batch; a key whose hash another took
 * meanwhile is skipped (`OR IGNORE`). Answers the ids written.
 */
export async function insertImported(db: Db, rows: readonly ApiKeyRow[], audit: AuditRow) {
  if (rows.length === 0) return new Set<string>();
  const inserts = rows.map((row) => db.insert(apiKeys).values(row).onConflictDoNothing().returning({ id: apiKeys.id }));
  const [, ...written] = await db.batch([insertAudit(db, audit), ...inserts]);
  return new Set((written as { id: string }[][]).flat().map((r) => r.id));
}

/** A key of an Unkey API and its audit entry, one batch (no key limit: they are the host's customers'). */
export async function insertApiKey(db: Db, row: ApiKeyRow, audit: AuditRow) {
  await db.batch([db.insert(apiKeys).values(row), insertAudit(db, audit)]);
}

/**
 * Inserts a key unless that takes the account past `maxActiveKeys`. D1 has no BEGIN, so the insert
 * and a guarded delete run as one batch (a transaction): concurrent creates cannot overshoot.
 * `audit` is written last in the same batch, only if the key survived. False: the limit refused it.
 */
export async function insertKeyWithinLimit(
  db: Db,
  row: ApiKeyRow,
  maxActiveKeys: number,
  now: number,
  audit: AuditRow,
) {
  const [, removed] = await db.batch([
    db.insert(apiKeys).values(row),
    db
      .delete(apiKeys)
      .where(and(eq(apiKeys.id, row.id), sql`${activeKeysOf(row.accountId, now)} > ${maxActiveKeys}`))
      .returning({ id: apiKeys.id }),
    insertAudit(db, audit, sql`EXISTS (SELECT 1 FROM ${apiKeys} WHERE ${apiKeys.id} = ${row.id})`),
  ]);
  return removed.length === 0;
}

const visible = (accountId: string, id: string) =>
  and(eq(apiKeys.id, id), eq(apiKeys.accountId, accountId), isNull(apiKeys.revokedAt));

/** A key with its profile's permissions (for effective permissions and badges). */
const withProfile = (db: Db) =>
  db
    .select({ key: apiKeys, profilePermissions: permissionProfiles.permissions })
    .from(apiKeys)
    .leftJoin(permissionProfiles, eq(permissionProfiles.id, apiKeys.profileId));

export type KeyWithProfile = { key: ApiKeyRow; profilePermissions: string[] | null };

export function getKey(db: Db, accountId: string, id: string) {
  return withProfile(db).where(visible(accountId, id)).get();
}

/** Live keys, newest first: Keyhook's own (no `keyspace`), or one Unkey API's (of one identity). */
export function listKeys(
  db: Db,
  accountId: string,
  limit: number,
  cursor?: string,
  keyspace: { id: string; externalId?: string | undefined } | null = null,
) {
  return withProfile(db)
    .where(
      and(
        eq(apiKeys.accountId, accountId),
        isNull(apiKeys.revokedAt),
        keyspace === null ? isNull(apiKeys.keyspaceId) : eq(apiKeys.keyspaceId, keyspace.id),
        keyspace?.externalId ? eq(apiKeys.externalId, keyspace.externalId) : undefined,
        cursor ? lt(apiKeys.id, cursor) : undefined,
      ),
    )
    .orderBy(desc(apiKeys.id))
    .limit(limit)
    .all();
}

/**
 * Updates a live key and, in the same batch, writes its audit entry — only if the update matched
 * (the row then carries this change's `updatedAt`). False if there was no such key.
 */
export async function updateKey(
  db: Db,
  accountId: string,
  id: string,
  changes: Partial<ApiKeyRow> & { updatedAt: number },
  audit: AuditRow,
) {
  const [rows] = await db.batch([
    db.update(apiKeys).set(changes).where(visible(accountId, id)).returning({ id: apiKeys.id }),
    insertAudit(
      db,
      audit,
      sql`EXISTS (SELECT 1 FROM ${apiKeys} WHERE ${apiKeys.id} = ${id} AND ${apiKeys.updatedAt} = ${changes.updatedAt})`,
    ),
  ]);
  return rows.length > 0;
}

/**
 * Sets, increases or decreases a key's credits with its audit entry in one batch. Increments and
 * decrements are SQL expressions (a due refill applied first, never below 0), so they are atomic
 * with the requests spending at the same time. The remaining count after, or null if no such key
 * (or, for increment and decrement, a key without credits).
 */
export async function adjustCredits(
  db: Db,
  accountId: string,
  id: string,
  change: { op: "set" | "increment" | "decrement"; amount: number; now: number; day: number; months: string },
  updatedAt: number,
  audit: AuditRow,
) {
  const { op, amount, now } = change;
  const boundary = sql`(CASE ${apiKeys.creditsRefillInterval} WHEN 'daily' THEN ${change.day} WHEN 'monthly' THEN json_extract(${change.months}, '$[' || (coalesce(${apiKeys.creditsRefillDay}, 1) - 1) || ']') END)`;
  const due = sql`(${apiKeys.creditsRefillAmount} IS NOT NULL AND ${boundary} > coalesce(${apiKeys.creditsRefilledAt}, 0))`;
  const available = sql`(CASE WHEN ${due} THEN ${apiKeys.creditsRefillAmount} ELSE ${apiKeys.creditsRemaining} END)`;
  const set =
    op === "set"
      ? {
          creditsRemaining: amount,
          creditsRefilledAt: now,
          creditsLowThreshold: sql`coalesce(${apiKeys.creditsLowThreshold}, ${Math.floor(amount / 10)})`,
        }
      : {
          creditsRemaining: sql`max(0, ${available} ${op === "increment" ? sql`+` : sql`-`} ${amount})`,
          creditsRefilledAt: sql`CASE WHEN ${due} THEN ${boundary} ELSE ${apiKeys.creditsRefilledAt} END`,
        };
  const [rows] = await db.batch([
    db
      .update(apiKeys)
      .set({ ...set, updatedAt })
      .where(and(visible(accountId, id), op === "set" ? undefined : isNotNull(apiKeys.creditsRemaining)))
      .returning({ remaining: apiKeys.creditsRemaining }),
    insertAudit(
      db,
      audit,
      sql`EXISTS (SELECT 1 FROM ${apiKeys} WHERE ${apiKeys.id} = ${id} AND ${apiKeys.updatedAt} = ${updatedAt})`,
    ),
  ]);
  return rows[0]?.remaining ?? null;
}

/** Live keys that expire within `within` ms and have not been announced yet. */
export function keysExpiringSoon(db: Db, now: number, within: number, limit: number) {
  return db
    .select()
    .from(apiKeys)
    .where(
      and(
        isNull(apiKeys.revokedAt),
        isNull(apiKeys.expiringNotifiedAt),
        sql`${apiKeys.expiresAt} > ${now}`,
        sql`${apiKeys.expiresAt} <= ${now + within}`,
      ),
    )
    .limit(limit)
    .all();
}

/** Marks the notice sent; false if another sweep got there first. */
export async function markExpiringNotified(db: Db, id: string, now: number) {
  const rows = await db
    .update(apiKeys)
    .set({ expiringNotifiedAt: now })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.expiringNotifiedAt)))
    .returning({ id: apiKeys.id });
  return rows.length > 0;
}

/** Which of `ids` are live keys of the account (for the usage of a page of keys). */
export async function liveKeyIds(db: Db, accountId: string, ids: string[]) {
  if (ids.length === 0) return [];
  const rows = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    // The ids go in as one JSON parameter: D1 binds at most 100 per statement, and 100 ids are allowed.
    .where(
      and(
        sql`${apiKeys.id} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`,
        eq(apiKeys.accountId, accountId),
        isNull(apiKeys.revokedAt),
      ),
    )
    .all();
  return rows.map((r) => r.id);
}

/** A permission profile's permissions, if it is in the account (for grant checks and answers). */
export function findProfilePermissions(db: Db, accountId: string, id: string) {
  return db
    .select({ permissions: permissionProfiles.permissions })
    .from(permissionProfiles)
    .where(and(eq(permissionProfiles.id, id), eq(permissionProfiles.accountId, accountId)))
    .get();
}

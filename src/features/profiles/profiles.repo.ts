import { and, desc, eq, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { type AuditRow, apiKeys, type PermissionProfileRow, permissionProfiles } from "../../db/schema";
import { insertAudit } from "../audit/audit.repo";

const scoped = (accountId: string, id: string) =>
  and(eq(permissionProfiles.id, id), eq(permissionProfiles.accountId, accountId));

export function findProfile(db: Db, accountId: string, id: string) {
  return db.select().from(permissionProfiles).where(scoped(accountId, id)).get();
}

export function listProfiles(db: Db, accountId: string, limit: number, cursor?: string) {
  return db
    .select()
    .from(permissionProfiles)
    .where(and(eq(permissionProfiles.accountId, accountId), cursor ? lt(permissionProfiles.id, cursor) : undefined))
    .orderBy(desc(permissionProfiles.id))
    .limit(limit)
    .all();
}

/** The profile and its audit entry, in one batch. */
export async function insertProfile(db: Db, row: PermissionProfileRow, audit: AuditRow) {
  await db.batch([db.insert(permissionProfiles).values(row), insertAudit(db, audit)]);
}

export async function updateProfile(db: Db, row: PermissionProfileRow, audit: AuditRow) {
  const [rows] = await db.batch([
    db.update(permissionProfiles).set(row).where(scoped(row.accountId, row.id)).returning(),
    insertAudit(db, audit),
  ]);
  return rows[0];
}

/**
 * Deletes the profile only while no live key holds it — checked in the same statement — and
 * writes the audit entry only if it is then gone. False: a key still uses it.
 */
export async function deleteUnusedProfile(db: Db, accountId: string, id: string, audit: AuditRow) {
  const [deleted] = await db.batch([
    db
      .delete(permissionProfiles)
      .where(
        and(
          scoped(accountId, id),
          sql`NOT EXISTS (SELECT 1 FROM ${apiKeys} WHERE ${apiKeys.profileId} = ${id} AND ${apiKeys.revokedAt} IS NULL)`,
        ),
      )
      .returning({ id: permissionProfiles.id }),
    insertAudit(
      db,
      audit,
      sql`NOT EXISTS (SELECT 1 FROM ${permissionProfiles} WHERE ${permissionProfiles.id} = ${id})`,
    ),
  ]);
  return deleted.length > 0;
}

export async function countKeysUsing(db: Db, id: string) {
  const row = await db
    .select({ n: sql<number>`count(*)` })
    .from(apiKeys)
    .where(and(eq(apiKeys.profileId, id), isNull(apiKeys.revokedAt)))
    .get();
  return row?.n ?? 0;
}

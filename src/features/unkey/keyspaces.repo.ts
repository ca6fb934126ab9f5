import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../../db/client";
import { type AuditRow, apiKeys, type KeyspaceRow, keyspaces } from "../../db/schema";
import { insertAudit } from "../audit/audit.repo";

/** The API and its audit entry, one batch. */
export async function insertKeyspace(db: Db, row: KeyspaceRow, audit: AuditRow) {
  await db.batch([db.insert(keyspaces).values(row), insertAudit(db, audit)]);
}

/** A live API of the account. */
export function findKeyspace(db: Db, accountId: string, id: string) {
  return db
    .select()
    .from(keyspaces)
    .where(and(eq(keyspaces.id, id), eq(keyspaces.accountId, accountId), isNull(keyspaces.deletedAt)))
    .get();
}

/** The API marked deleted and its live keys revoked, one batch: answers the keys' ids (to purge). */
export async function deleteKeyspace(db: Db, accountId: string, id: string, at: number, audit: AuditRow) {
  const [, revoked] = await db.batch([
    db
      .update(keyspaces)
      .set({ deletedAt: at })
      .where(and(eq(keyspaces.id, id), eq(keyspaces.accountId, accountId), isNull(keyspaces.deletedAt))),
    db
      .update(apiKeys)
      .set({ revokedAt: at, updatedAt: at })
      .where(and(eq(apiKeys.keyspaceId, id), eq(apiKeys.accountId, accountId), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id }),
    insertAudit(db, audit),
  ]);
  return revoked.map((r) => r.id);
}

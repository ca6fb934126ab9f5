import { desc, eq, lt } from "drizzle-orm";
import type { Db } from "../../db/client";
import { type AuditRow, type OperatorKeyRow, operatorKeys } from "../../db/schema";
import { insertAudit } from "../audit/audit.repo";

/** The key a credential hashes to, revoked or not (the caller tells which). */
export function findByHash(db: Db, keyHash: string) {
  return db.select().from(operatorKeys).where(eq(operatorKeys.keyHash, keyHash)).get();
}

export function findKey(db: Db, id: string) {
  return db.select().from(operatorKeys).where(eq(operatorKeys.id, id)).get();
}

export function listKeys(db: Db, limit: number, cursor?: string) {
  return db
    .select()
    .from(operatorKeys)
    .where(cursor ? lt(operatorKeys.id, cursor) : undefined)
    .orderBy(desc(operatorKeys.id))
    .limit(limit)
    .all();
}

/** The key and its entry in the deployment's log, one batch. */
export async function insertKey(db: Db, row: OperatorKeyRow, audit: AuditRow) {
  await db.batch([db.insert(operatorKeys).values(row), insertAudit(db, audit)]);
}

/** A change (rename, scopes, revocation) and its entry in the deployment's log, one batch. */
export async function updateKey(db: Db, row: OperatorKeyRow, audit: AuditRow) {
  const [rows] = await db.batch([
    db.update(operatorKeys).set(row).where(eq(operatorKeys.id, row.id)).returning(),
    insertAudit(db, audit),
  ]);
  return rows[0];
}

/** When a key was last used, at most once an hour a key (a write per request would cost D1 a row each). */
export async function touchKey(db: Db, id: string, at: number) {
  await db.update(operatorKeys).set({ lastUsedAt: at }).where(eq(operatorKeys.id, id)).run();
}

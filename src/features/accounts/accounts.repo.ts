import { desc, eq, lt } from "drizzle-orm";
import type { Db } from "../../db/client";
import { type AccountRow, type AuditRow, accounts } from "../../db/schema";
import { insertAudit } from "../audit/audit.repo";

export function findAccount(db: Db, id: string) {
  return db.select().from(accounts).where(eq(accounts.id, id)).get();
}

/** The account and its audit entry, in one batch. */
export async function insertAccount(db: Db, row: AccountRow, audit: AuditRow) {
  await db.batch([db.insert(accounts).values(row), insertAudit(db, audit)]);
}

export function listAccounts(db: Db, limit: number, cursor?: string) {
  return db
    .select()
    .from(accounts)
    .where(cursor ? lt(accounts.id, cursor) : undefined)
    .orderBy(desc(accounts.id))
    .limit(limit)
    .all();
}

export async function updateAccount(db: Db, id: string, changes: Partial<AccountRow>, audit: AuditRow) {
  const [rows] = await db.batch([
    db.update(accounts).set(changes).where(eq(accounts.id, id)).returning(),
    insertAudit(db, audit),
  ]);
  return rows[0];
}

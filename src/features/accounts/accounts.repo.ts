import { desc, eq, lt } from "drizzle-orm";
import type { Db } from "../../db/client";
import { accounts, type AccountRow } from "../../db/schema";

export function findAccount(db: Db, id: string) {
  return db.select().from(accounts).where(eq(accounts.id, id)).get();
}

export async function insertAccount(db: Db, row: AccountRow) {
  await db.insert(accounts).values(row);
  return row;
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

export async function updateAccount(db: Db, id: string, changes: Partial<AccountRow>) {
  const rows = await db.update(accounts).set(changes).where(eq(accounts.id, id)).returning();
  return rows[0];
}

import { and, desc, eq, getTableColumns, gte, lt, lte, type SQL, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { type AuditRow, auditLog } from "../../db/schema";

const names = Object.keys(getTableColumns(auditLog)) as (keyof AuditRow)[];

/**
 * A batchable insert of one entry. With `onlyIf`, the entry is written only when that condition
 * holds at that point of the batch (e.g. "the key this entry describes exists"), so a change that
 * a guard undid in the same batch leaves no entry behind.
 */
export function insertAudit(db: Db, row: AuditRow, onlyIf?: SQL) {
  if (!onlyIf) return db.insert(auditLog).values(row);
  // INSERT … SELECT takes the table's columns in definition order, which is `names`' order; each
  // value is encoded by its column (the JSON ones are serialized).
  const values = sql.join(
    names.map((n) => sql`${sql.param(row[n], auditLog[n])}`),
    sql`, `,
  );
  return db.insert(auditLog).select(sql`SELECT ${values} WHERE ${onlyIf}`);
}

export interface AuditFilter {
  actorId?: string;
  action?: string;
  targetId?: string;
  since?: number;
  until?: number;
  cursor?: string;
}

/** Newest first, within one account. */
export function listAudit(db: Db, accountId: string, filter: AuditFilter, limit: number) {
  return db
    .select()
    .from(auditLog)
    .where(
      and(
        eq(auditLog.accountId, accountId),
        filter.actorId ? eq(auditLog.actorId, filter.actorId) : undefined,
        filter.action ? eq(auditLog.action, filter.action) : undefined,
        filter.targetId ? eq(auditLog.targetId, filter.targetId) : undefined,
        filter.since !== undefined ? gte(auditLog.createdAt, filter.since) : undefined,
        filter.until !== undefined ? lte(auditLog.createdAt, filter.until) : undefined,
        filter.cursor ? lt(auditLog.id, filter.cursor) : undefined,
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(limit)
    .all();
}

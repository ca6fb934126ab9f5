import { and, desc, eq, lt, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { type AuditRow, webhooks, type WebhookRow } from "../../db/schema";
import { insertAudit } from "../audit/audit.repo";

const scoped = (accountId: string, id: string) => and(eq(webhooks.id, id), eq(webhooks.accountId, accountId));

export function getWebhook(db: Db, accountId: string, id: string) {
  return db.select().from(webhooks).where(scoped(accountId, id)).get();
}

export function listWebhooks(db: Db, accountId: string, limit: number, cursor?: string) {
  return db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.accountId, accountId), cursor ? lt(webhooks.id, cursor) : undefined))
    .orderBy(desc(webhooks.id))
    .limit(limit)
    .all();
}

/** Insert + guarded delete + guarded audit in one batch, as for keys: concurrent creates cannot overshoot. */
export async function insertWebhookWithinLimit(db: Db, row: WebhookRow, max: number, audit: AuditRow) {
  const [, removed] = await db.batch([
    db.insert(webhooks).values(row),
    db
      .delete(webhooks)
      .where(
        and(
          eq(webhooks.id, row.id),
          sql`(SELECT count(*) FROM ${webhooks} WHERE ${webhooks.accountId} = ${row.accountId}) > ${max}`,
        ),
      )
      .returning({ id: webhooks.id }),
    insertAudit(db, audit, sql`EXISTS (SELECT 1 FROM ${webhooks} WHERE ${webhooks.id} = ${row.id})`),
  ]);
  return removed.length === 0;
}

/** The change and its audit entry, one batch; the entry only if the change matched a row. */
export async function updateWebhook(
  db: Db,
  accountId: string,
  id: string,
  changes: Partial<WebhookRow> & { updatedAt: number },
  audit: AuditRow | null,
) {
  const update = db.update(webhooks).set(changes).where(scoped(accountId, id)).returning({ id: webhooks.id });
  if (!audit) return (await update).length > 0;
  const [rows] = await db.batch([
    update,
    insertAudit(
      db,
      audit,
      sql`EXISTS (SELECT 1 FROM ${webhooks} WHERE ${webhooks.id} = ${id} AND ${webhooks.updatedAt} = ${changes.updatedAt})`,
    ),
  ]);
  return rows.length > 0;
}

export async function deleteWebhook(db: Db, accountId: string, id: string, audit: AuditRow) {
  const [rows] = await db.batch([
    db.delete(webhooks).where(scoped(accountId, id)).returning({ id: webhooks.id }),
    insertAudit(db, audit, sql`NOT EXISTS (SELECT 1 FROM ${webhooks} WHERE ${webhooks.id} = ${id})`),
  ]);
  return rows.length > 0;
}

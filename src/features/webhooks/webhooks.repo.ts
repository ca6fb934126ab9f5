import { and, desc, eq, getTableColumns, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { type AuditRow, accounts, attempts, deliveries, eventTypes, type WebhookRow, webhooks } from "../../db/schema";
import { insertAudit } from "../audit/audit.repo";

const scoped = (accountId: string, id: string) => and(eq(webhooks.id, id), eq(webhooks.accountId, accountId));

/**
 * The newest attempt's `column`, read from the history (deliveries do not write it on the webhook).
 * Written out: Drizzle leaves a one-table select's columns unqualified, which would bind `id` to the
 * subquery's own table.
 */
const latestAttempt = <T>(column: "created_at" | "response_status" | "succeeded") =>
  sql<T>`(SELECT a.${sql.raw(column)} FROM attempts a WHERE a.webhook_id = webhooks.id ORDER BY a.id DESC LIMIT 1)`;

/** A webhook as the API shows it: its row, its latest attempt, and its latest success. */
const viewColumns = {
  ...getTableColumns(webhooks),
  lastAttemptAt: latestAttempt<number | null>("created_at"),
  lastAttemptStatus: latestAttempt<number | null>("response_status"),
  lastAttemptSucceeded: latestAttempt<number | null>("succeeded"),
  lastSucceededAttemptAt: sql<
    number | null
  >`(SELECT max(a.created_at) FROM attempts a WHERE a.webhook_id = webhooks.id AND a.succeeded = 1)`,
};

export type WebhookView = WebhookRow & {
  lastAttemptAt: number | null;
  lastAttemptStatus: number | null;
  lastAttemptSucceeded: number | boolean | null;
  lastSucceededAttemptAt: number | null;
};

export function getWebhook(db: Db, accountId: string, id: string): Promise<WebhookView | undefined> {
  return db.select(viewColumns).from(webhooks).where(scoped(accountId, id)).get();
}

export function listWebhooks(db: Db, accountId: string, limit: number, cursor?: string): Promise<WebhookView[]> {
  return db
    .select(viewColumns)
    .from(webhooks)
    .where(and(eq(webhooks.accountId, accountId), cursor ? lt(webhooks.id, cursor) : undefined))
    .orderBy(desc(webhooks.id))
    .limit(limit)
    .all();
}

/** What publishing needs of an account's active webhooks: matching, and a first attempt's signing. */
/** The account's active webhooks and its `webhooksVersion`, in one round trip (version null: no such account). */
export async function activeTargetsWithVersion(db: Db, accountId: string) {
  const [targets, version, schemas] = await db.batch([
    activeTargets(db, accountId),
    db
      .select({ v: accounts.webhooksVersion })
      .from(accounts)
      .where(and(eq(accounts.id, accountId), isNull(accounts.deletedAt))),
    // The catalog's schemas that publish checks: a catalog change bumps the same version.
    db
      .select({ name: eventTypes.name, schema: eventTypes.schema })
      .from(eventTypes)
      .where(and(eq(eventTypes.accountId, accountId), eq(eventTypes.validate, true))),
  ]);
  return { targets, schemas, version: version[0]?.v ?? null };
}

export async function activeWebhookIds(db: Db, accountId: string) {
  const rows = await db
    .select({ id: webhooks.id })
    .from(webhooks)
    .where(and(eq(webhooks.accountId, accountId), eq(webhooks.status, "active")))
    .orderBy(webhooks.id)
    .all();
  return rows.map((r) => r.id);
}

function activeTargets(db: Db, accountId: string) {
  return db
    .select({
      id: webhooks.id,
      accountId: webhooks.accountId,
      url: webhooks.url,
      status: webhooks.status,
      events: webhooks.events,
      filter: webhooks.filter,
      secret: webhooks.secret,
      previousSecret: webhooks.previousSecret,
      previousSecretExpiresAt: webhooks.previousSecretExpiresAt,
      failingSince: webhooks.failingSince,
      disabledReason: webhooks.disabledReason,
      updatedAt: webhooks.updatedAt,
      headers: webhooks.headers,
      throttle: webhooks.throttle,
      timeoutMs: webhooks.timeoutMs,
    })
    .from(webhooks)
    .where(and(eq(webhooks.accountId, accountId), eq(webhooks.status, "active")));
}

/** Every change to an account's webhooks bumps its version in the same batch (see `accounts.webhooksVersion`). */
export const bumpVersion = (db: Db, accountId: string) =>
  db
    .update(accounts)
    .set({ webhooksVersion: sql`${accounts.webhooksVersion} + 1` })
    .where(eq(accounts.id, accountId));

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
    bumpVersion(db, row.accountId),
  ]);
  return removed.length === 0;
}

/** The change and its audit entry, one batch; the entry only if the change matched a row. */
export async function updateWebhook(
  db: Db,
  accountId: string,
  id: string,
  changes: Partial<WebhookRow> & { updatedAt: number },
  audit: AuditRow,
) {
  const [rows] = await db.batch([
    db.update(webhooks).set(changes).where(scoped(accountId, id)).returning({ id: webhooks.id }),
    insertAudit(
      db,
      audit,
      sql`EXISTS (SELECT 1 FROM ${webhooks} WHERE ${webhooks.id} = ${id} AND ${webhooks.updatedAt} = ${changes.updatedAt})`,
    ),
    bumpVersion(db, accountId),
  ]);
  return rows.length > 0;
}

/**
 * The webhook, its attempt history and its pending deliveries (cancelled: a delivery in flight
 * records nothing once its webhook is gone), with the audit entry, in one batch.
 */
export async function deleteWebhook(db: Db, accountId: string, id: string, audit: AuditRow, at: number) {
  const [rows] = await db.batch([
    db.delete(webhooks).where(scoped(accountId, id)).returning({ id: webhooks.id }),
    insertAudit(db, audit, sql`NOT EXISTS (SELECT 1 FROM ${webhooks} WHERE ${webhooks.id} = ${id})`),
    db
      .update(deliveries)
      .set({ status: "cancelled", nextAttemptAt: null, updatedAt: at })
      .where(and(eq(deliveries.webhookId, id), eq(deliveries.accountId, accountId), eq(deliveries.status, "pending"))),
    db.delete(attempts).where(and(eq(attempts.webhookId, id), eq(attempts.accountId, accountId))),
    bumpVersion(db, accountId),
  ]);
  return rows.length > 0;
}

/**
 * Keyhook disables an active webhook itself, with its audit entry, and ends the given pending
 * deliveries of it: one batch. False if it was no longer active (another consumer got there first,
 * or a person disabled it): then nothing is written but the deliveries' end.
 */
export async function disableWebhook(
  db: Db,
  webhook: Pick<WebhookRow, "id" | "accountId">,
  reason: string,
  updatedAt: number,
  audit: AuditRow,
  deliveryIds: string[],
) {
  const [rows] = await db.batch([
    db
      .update(webhooks)
      .set({ status: "disabled", disabledReason: reason, updatedAt })
      .where(and(scoped(webhook.accountId, webhook.id), eq(webhooks.status, "active")))
      .returning({ id: webhooks.id }),
    insertAudit(
      db,
      audit,
      sql`EXISTS (SELECT 1 FROM ${webhooks} WHERE ${webhooks.id} = ${webhook.id} AND ${webhooks.updatedAt} = ${updatedAt})`,
    ),
    bumpVersion(db, webhook.accountId),
    db
      .update(deliveries)
      .set({ status: "failed", nextAttemptAt: null, updatedAt })
      .where(
        and(
          sql`${deliveries.id} IN (SELECT value FROM json_each(${JSON.stringify(deliveryIds)}))`,
          eq(deliveries.status, "pending"),
        ),
      ),
  ]);
  return rows.length > 0;
}

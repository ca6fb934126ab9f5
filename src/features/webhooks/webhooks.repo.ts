import { and, desc, eq, isNull, lt, sql } from "drizzle-orm";
import { asStatement, type Db } from "../../db/client";
import { type AuditRow, accounts, eventTypes, type WebhookRow, webhooks } from "../../db/schema";
import { insertAudit } from "../audit/audit.repo";
import { cancelPending } from "../deliveries/delivery-sql";

const scoped = (accountId: string, id: string) => and(eq(webhooks.id, id), eq(webhooks.accountId, accountId));

export function getWebhook(db: Db, accountId: string, id: string): Promise<WebhookRow | undefined> {
  return db.select().from(webhooks).where(scoped(accountId, id)).get();
}

export function listWebhooks(db: Db, accountId: string, limit: number, cursor?: string): Promise<WebhookRow[]> {
  return db
    .select()
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
      deliveryFormat: webhooks.deliveryFormat,
      channels: webhooks.channels,
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
export const webhookIdByUid = (db: Db, accountId: string, uid: string) =>
  db
    .select({ id: webhooks.id })
    .from(webhooks)
    .where(and(eq(webhooks.accountId, accountId), eq(webhooks.uid, uid)))
    .get();

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
 * The webhook and its pending deliveries (cancelled: a delivery in flight records nothing once its
 * webhook is gone), with the audit entry, in one batch. Its attempts stay in their events' history.
 */
export async function deleteWebhook(db: Db, accountId: string, id: string, audit: AuditRow, at: number) {
  const [rows] = await db.$client.batch<{ id: string }>([
    asStatement(db, db.delete(webhooks).where(scoped(accountId, id)).returning({ id: webhooks.id })),
    asStatement(db, insertAudit(db, audit, sql`NOT EXISTS (SELECT 1 FROM ${webhooks} WHERE ${webhooks.id} = ${id})`)),
    cancelPending(db, accountId, id, at),
    asStatement(db, bumpVersion(db, accountId)),
  ]);
  return (rows?.results.length ?? 0) > 0;
}

/**
 * Keyhook disables an active webhook itself, with its audit entry: one batch. False if it was no
 * longer active (another consumer got there first, or a person disabled it).
 */
export async function disableWebhook(
  db: Db,
  webhook: Pick<WebhookRow, "id" | "accountId">,
  reason: string,
  updatedAt: number,
  audit: AuditRow,
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
  ]);
  return rows.length > 0;
}

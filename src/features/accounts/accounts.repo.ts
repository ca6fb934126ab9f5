import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, lt, ne, sql } from "drizzle-orm";
import { asStatement, type Db } from "../../db/client";
import {
  type AccountRow,
  type AuditRow,
  accounts,
  apiKeys,
  auditLog,
  events,
  eventTypes,
  identities,
  keyPermissions,
  keyRoles,
  keyspaces,
  oauthClients,
  oauthGrants,
  oauthTokens,
  permissionProfiles,
  portalSessions,
  ratelimitOverrides,
  verificationCounts,
  webhooks,
} from "../../db/schema";
import { insertAudit } from "../audit/audit.repo";
import { cancelPending } from "../deliveries/delivery-sql";

/** A deleted account is not found, even while its data is being purged. */
export function findAccount(db: Db, id: string) {
  return db
    .select()
    .from(accounts)
    .where(and(eq(accounts.id, id), isNull(accounts.deletedAt)))
    .get();
}

/** The account and its audit entry, in one batch. */
export async function insertAccount(db: Db, row: AccountRow, audit: AuditRow) {
  await db.batch([db.insert(accounts).values(row), insertAudit(db, audit)]);
}

export function listAccounts(db: Db, limit: number, cursor?: string, externalId?: string) {
  return db
    .select()
    .from(accounts)
    .where(
      and(
        isNull(accounts.deletedAt),
        cursor ? lt(accounts.id, cursor) : undefined,
        externalId ? eq(accounts.externalId, externalId) : undefined,
      ),
    )
    .orderBy(desc(accounts.id))
    .limit(limit)
    .all();
}

export async function updateAccount(db: Db, id: string, changes: Partial<AccountRow>, audit: AuditRow) {
  const [rows] = await db.batch([
    db
      .update(accounts)
      .set(changes)
      .where(and(eq(accounts.id, id), isNull(accounts.deletedAt)))
      .returning(),
    insertAudit(db, audit),
  ]);
  return rows[0];
}

/**
 * The deletion's first write, one batch: the account is marked deleted (from here on it is not
 * found, and the key lookup refuses every one of its keys), the audit entry that will outlive it,
 * and its webhooks (so nothing more is sent) with their pending deliveries cancelled. False if the
 * account was already deleted.
 */
export async function markDeleted(db: Db, id: string, at: number, audit: AuditRow) {
  const [marked] = await db.$client.batch([
    asStatement(
      db,
      db
        .update(accounts)
        // The host's id is free again: a new account may take it.
        .set({ deletedAt: at, updatedAt: at, externalId: null })
        .where(and(eq(accounts.id, id), isNull(accounts.deletedAt)))
        .returning({ id: accounts.id }),
    ),
    asStatement(
      db,
      insertAudit(
        db,
        audit,
        sql`EXISTS (SELECT 1 FROM ${accounts} WHERE ${accounts.id} = ${id} AND ${accounts.deletedAt} = ${at})`,
      ),
    ),
    cancelPending(db, id, null, at),
    asStatement(db, db.delete(webhooks).where(eq(webhooks.accountId, id))),
  ]);
  return (marked?.results.length ?? 0) > 0;
}

/** Accounts marked deleted whose data is not all gone yet (the cron goes on with them). */
export function deletedAccounts(db: Db, limit: number) {
  return db.select({ id: accounts.id }).from(accounts).where(isNotNull(accounts.deletedAt)).limit(limit).all();
}

/** The next keys of a deleted account, for their counters to be deleted before they are. */
export function keysOf(db: Db, accountId: string, limit: number) {
  return db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(eq(apiKeys.accountId, accountId))
    .orderBy(asc(apiKeys.id))
    .limit(limit)
    .all();
}

export function deleteKeys(db: Db, ids: string[]) {
  return db.delete(apiKeys).where(inArray(apiKeys.id, ids)).run();
}

/**
 * The account's next events after `after`, in id order. Events have no account index (one would
 * be a row written per publish, for the rare deletion): a purge reads the table once, by its key.
 */
export function eventsAfter(db: Db, accountId: string, after: string, limit: number) {
  return db
    .select({ id: events.id })
    .from(events)
    .where(and(gt(events.id, after), eq(events.accountId, accountId)))
    .orderBy(asc(events.id))
    .limit(limit)
    .all();
}

/** Events (their deliveries and attempts are in their rows), and the old delivery ids naming them. */
export async function deleteEvents(db: Db, ids: string[]) {
  const json = JSON.stringify(ids);
  await db.$client.batch([
    db.$client.prepare("DELETE FROM delivery_aliases WHERE event_id IN (SELECT value FROM json_each(?1))").bind(json),
    db.$client.prepare("DELETE FROM events WHERE id IN (SELECT value FROM json_each(?1))").bind(json),
  ]);
}

/** Up to `limit` audit entries of the account, never the deletion's own. */
export function deleteAuditEntries(db: Db, accountId: string, limit: number) {
  return db.run(sql`DELETE FROM ${auditLog} WHERE id IN (SELECT id FROM ${auditLog}
    WHERE account_id = ${accountId} AND action != 'account.deleted' LIMIT ${limit})`);
}

/**
 * The purge's last batch, atomic: whatever is left of the account's own rows (including any a
 * request racing the deletion wrote since the purge passed), then the account row itself. The
 * deletion's audit entry stays.
 */
export async function deleteRest(db: Db, accountId: string) {
  await db.batch([
    db.delete(auditLog).where(and(eq(auditLog.accountId, accountId), ne(auditLog.action, "account.deleted"))),
    db.delete(eventTypes).where(eq(eventTypes.accountId, accountId)),
    db.delete(verificationCounts).where(eq(verificationCounts.accountId, accountId)),
    db.delete(webhooks).where(eq(webhooks.accountId, accountId)),
    db.delete(apiKeys).where(eq(apiKeys.accountId, accountId)),
    db.delete(keyspaces).where(eq(keyspaces.accountId, accountId)),
    db.delete(identities).where(eq(identities.accountId, accountId)),
    db.delete(keyRoles).where(eq(keyRoles.accountId, accountId)),
    db.delete(keyPermissions).where(eq(keyPermissions.accountId, accountId)),
    db.delete(ratelimitOverrides).where(eq(ratelimitOverrides.accountId, accountId)),
    db.delete(oauthTokens).where(eq(oauthTokens.accountId, accountId)),
    db.delete(oauthGrants).where(eq(oauthGrants.accountId, accountId)),
    db.delete(oauthClients).where(eq(oauthClients.accountId, accountId)),
    db.delete(portalSessions).where(eq(portalSessions.accountId, accountId)),
    db.delete(permissionProfiles).where(eq(permissionProfiles.accountId, accountId)),
    db.delete(accounts).where(and(eq(accounts.id, accountId), isNotNull(accounts.deletedAt))),
  ]);
}

import { and, eq, gt, isNull, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { type AuditRow, accounts, type PortalSessionRow, portalSessions } from "../../db/schema";
import { insertAudit } from "../audit/audit.repo";

/** The account a session is made for, by id or by the host's `externalId` (deleted ones: none). */
export function findAccount(db: Db, by: { id: string } | { externalId: string }) {
  return db
    .select({ id: accounts.id, name: accounts.name })
    .from(accounts)
    .where(
      and("id" in by ? eq(accounts.id, by.id) : eq(accounts.externalId, by.externalId), isNull(accounts.deletedAt)),
    )
    .get();
}

/** The session and its audit entry, one batch. */
export async function insertSession(db: Db, row: PortalSessionRow, audit: AuditRow) {
  await db.batch([db.insert(portalSessions).values(row), insertAudit(db, audit)]);
}

/**
 * The link's one use: the session's hash is written only if the link is unopened, unrevoked and
 * unexpired — one conditional write, so two opens racing each other cannot both win.
 */
export async function openLink(db: Db, linkHash: string, sessionHash: string, at: number) {
  return db
    .update(portalSessions)
    .set({ openedAt: at, sessionHash })
    .where(
      and(
        eq(portalSessions.linkHash, linkHash),
        isNull(portalSessions.openedAt),
        isNull(portalSessions.revokedAt),
        gt(portalSessions.linkExpiresAt, at),
      ),
    )
    .returning()
    .get();
}

/** A live session by its cookie's hash, with its account's name and `webhooksVersion`. */
export function findLiveSession(db: Db, sessionHash: string, at: number) {
  return db
    .select({ session: portalSessions, accountName: accounts.name, webhooksVersion: accounts.webhooksVersion })
    .from(portalSessions)
    .innerJoin(accounts, eq(accounts.id, portalSessions.accountId))
    .where(
      and(
        eq(portalSessions.sessionHash, sessionHash),
        isNull(portalSessions.revokedAt),
        gt(portalSessions.expiresAt, at),
        isNull(accounts.deletedAt),
      ),
    )
    .get();
}

/** Ends a session of the account (and its audit entry); undefined if there is none. */
export async function revokeSession(db: Db, accountId: string, id: string, at: number, audit: AuditRow) {
  const [rows] = await db.batch([
    db
      .update(portalSessions)
      .set({ revokedAt: at })
      .where(and(eq(portalSessions.id, id), eq(portalSessions.accountId, accountId), isNull(portalSessions.revokedAt)))
      .returning(),
    insertAudit(db, audit),
  ]);
  return rows[0];
}

/** Signing out: the session behind this cookie ends now. */
export function endSession(db: Db, sessionHash: string, at: number) {
  return db
    .update(portalSessions)
    .set({ revokedAt: at })
    .where(and(eq(portalSessions.sessionHash, sessionHash), isNull(portalSessions.revokedAt)));
}

/** The cron's: sessions past their end (bounded per run). */
export function deleteExpired(db: Db, at: number, limit: number) {
  return db.run(sql`DELETE FROM ${portalSessions} WHERE id IN (SELECT id FROM ${portalSessions}
    WHERE ${portalSessions.expiresAt} < ${at} LIMIT ${limit})`);
}

export function findSession(db: Db, accountId: string, id: string) {
  return db
    .select()
    .from(portalSessions)
    .where(and(eq(portalSessions.id, id), eq(portalSessions.accountId, accountId)))
    .get();
}

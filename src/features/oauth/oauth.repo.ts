import { and, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import {
  type AuditRow,
  accounts,
  type OAuthClientRow,
  type OAuthGrantRow,
  type OAuthTokenRow,
  oauthClients,
  oauthConsents,
  oauthGrants,
  oauthTokens,
  permissionProfiles,
} from "../../db/schema";
import { insertAudit } from "../audit/audit.repo";

/**
 * The clients of one owner: an account's, or (`null`) the deployment's — the operator's shared
 * public clients and dynamic registrations, which belong to no account.
 */
const ownedBy = (accountId: string | null) =>
  accountId === null ? isNull(oauthClients.accountId) : eq(oauthClients.accountId, accountId);

const visibleClient = (accountId: string | null, id: string) => and(eq(oauthClients.id, id), ownedBy(accountId));

/** Any client by its `client_id` (the OAuth endpoints: the account comes from the client or the user). */
export function findClient(db: Db, id: string) {
  return db.select().from(oauthClients).where(eq(oauthClients.id, id)).get();
}

export function findAccountClient(db: Db, accountId: string | null, id: string) {
  return db.select().from(oauthClients).where(visibleClient(accountId, id)).get();
}

export function listClients(db: Db, accountId: string | null, limit: number, cursor?: string) {
  return db
    .select()
    .from(oauthClients)
    .where(and(ownedBy(accountId), cursor ? lt(oauthClients.id, cursor) : undefined))
    .orderBy(desc(oauthClients.id))
    .limit(limit)
    .all();
}

/** The client and its audit entry, one batch. */
export async function insertClient(db: Db, row: OAuthClientRow, audit: AuditRow) {
  await db.batch([db.insert(oauthClients).values(row), insertAudit(db, audit)]);
}

export async function updateClient(db: Db, row: OAuthClientRow, audit: AuditRow) {
  const [rows] = await db.batch([
    db.update(oauthClients).set(row).where(visibleClient(row.accountId, row.id)).returning(),
    insertAudit(db, audit),
  ]);
  return rows[0];
}

/** The client, every grant to it and every token it holds, and the audit entry: one batch. */
export async function deleteClient(db: Db, accountId: string | null, id: string, audit: AuditRow) {
  const [, , deleted] = await db.batch([
    db.delete(oauthTokens).where(eq(oauthTokens.clientId, id)),
    db.delete(oauthGrants).where(eq(oauthGrants.clientId, id)),
    db.delete(oauthClients).where(visibleClient(accountId, id)).returning({ id: oauthClients.id }),
    insertAudit(db, audit),
  ]);
  return deleted.length > 0;
}

/**
 * The hot-path read for an access token: the token, its client (still enabled), its grant (still
 * there) with what the user held and the profile's current permissions, and the account's limits —
 * one indexed query, so a revoked grant, a disabled client or a deleted account is refused at once.
 */
export function findAccessToken(db: Db, hash: string) {
  return db
    .select({
      token: {
        id: oauthTokens.id,
        accountId: oauthTokens.accountId,
        clientId: oauthTokens.clientId,
        grantId: oauthTokens.grantId,
        scopes: oauthTokens.scopes,
        expiresAt: oauthTokens.expiresAt,
      },
      client: { name: oauthClients.name, enabled: oauthClients.enabled },
      grant: {
        userId: oauthGrants.userId,
        userName: oauthGrants.userName,
        userRole: oauthGrants.userRole,
        userPermissions: oauthGrants.userPermissions,
        userProfileId: oauthGrants.userProfileId,
      },
      profilePermissions: permissionProfiles.permissions,
      account: {
        plan: accounts.plan,
        maxActiveKeys: accounts.maxActiveKeys,
        rateLimitPerHour: accounts.rateLimitPerHour,
        webhooksVersion: accounts.webhooksVersion,
      },
    })
    .from(oauthTokens)
    .innerJoin(oauthClients, eq(oauthClients.id, oauthTokens.clientId))
    .innerJoin(accounts, eq(accounts.id, oauthTokens.accountId))
    .leftJoin(oauthGrants, eq(oauthGrants.id, oauthTokens.grantId))
    .leftJoin(
      permissionProfiles,
      and(eq(permissionProfiles.id, oauthGrants.userProfileId), eq(permissionProfiles.accountId, accounts.id)),
    )
    .where(and(eq(oauthTokens.hash, hash), eq(oauthTokens.kind, "access"), isNull(accounts.deletedAt)))
    .get();
}

/** A token of any kind by its hash, with its client's state (introspection, revocation, codes). */
export function findToken(db: Db, hash: string) {
  return db.select().from(oauthTokens).where(eq(oauthTokens.hash, hash)).get();
}

/**
 * Marks a code or refresh token used — only if it was not, in the same statement — and answers
 * the row; undefined: unknown, or used before (the caller tells them apart with `findToken`).
 */
export function consumeToken(db: Db, hash: string, kind: "code" | "refresh", now: number) {
  return db
    .update(oauthTokens)
    .set({ usedAt: now })
    .where(and(eq(oauthTokens.hash, hash), eq(oauthTokens.kind, kind), isNull(oauthTokens.usedAt)))
    .returning()
    .get();
}

export async function insertTokens(db: Db, rows: OAuthTokenRow[]) {
  await db.insert(oauthTokens).values(rows);
}

/**
 * The grant for (account, user, client): created, or given the newly consented scopes and what
 * the user holds now; and the code, in the same batch.
 */
export async function upsertGrant(db: Db, grant: OAuthGrantRow, code: OAuthTokenRow, audit: AuditRow) {
  const [rows] = await db.batch([
    db
      .insert(oauthGrants)
      .values(grant)
      .onConflictDoUpdate({
        target: [oauthGrants.accountId, oauthGrants.userId, oauthGrants.clientId],
        set: {
          scopes: grant.scopes,
          userName: grant.userName,
          userRole: grant.userRole,
          userPermissions: grant.userPermissions,
          userProfileId: grant.userProfileId,
          updatedAt: grant.updatedAt,
        },
      })
      .returning({ id: oauthGrants.id }),
    insertAudit(db, audit),
  ]);
  const grantId = rows[0]?.id;
  if (!grantId) throw new Error("the grant upsert returned no row");
  await db.insert(oauthTokens).values({ ...code, grantId });
  return grantId;
}

export function findGrant(db: Db, accountId: string, id: string) {
  return db
    .select()
    .from(oauthGrants)
    .where(and(eq(oauthGrants.id, id), eq(oauthGrants.accountId, accountId)))
    .get();
}

/**
 * A grant with what its user holds now (their role and permissions, and their profile's current
 * permissions): what a token answer and introspection name as the token's scope.
 */
export function findGrantHoldings(db: Db, accountId: string, id: string) {
  return db
    .select({
      userId: oauthGrants.userId,
      userRole: oauthGrants.userRole,
      userPermissions: oauthGrants.userPermissions,
      profilePermissions: permissionProfiles.permissions,
    })
    .from(oauthGrants)
    .leftJoin(
      permissionProfiles,
      and(eq(permissionProfiles.id, oauthGrants.userProfileId), eq(permissionProfiles.accountId, accountId)),
    )
    .where(and(eq(oauthGrants.id, id), eq(oauthGrants.accountId, accountId)))
    .get();
}

/**
 * Marks a consent request decided: true for the first Allow or Deny of its nonce, false for any
 * later one (the statement itself tells, so two posts racing cannot both win).
 */
export async function consumeConsent(db: Db, nonce: string, expiresAt: number) {
  const rows = await db
    .insert(oauthConsents)
    .values({ nonce, expiresAt })
    .onConflictDoNothing()
    .returning({ nonce: oauthConsents.nonce });
  return rows.length > 0;
}

/** Grants of the account (or of one user), newest first, with their client's name. */
export function listGrants(db: Db, accountId: string, userId: string | null, limit: number, cursor?: string) {
  return db
    .select({ grant: oauthGrants, clientName: oauthClients.name })
    .from(oauthGrants)
    .innerJoin(oauthClients, eq(oauthClients.id, oauthGrants.clientId))
    .where(
      and(
        eq(oauthGrants.accountId, accountId),
        userId === null ? undefined : eq(oauthGrants.userId, userId),
        cursor ? lt(oauthGrants.id, cursor) : undefined,
      ),
    )
    .orderBy(desc(oauthGrants.id))
    .limit(limit)
    .all();
}

/**
 * The grant and every token issued under it, with the audit entry: one batch. The entry is written
 * first and only while the grant still exists, so of two revokes racing only the one that deletes
 * it is audited.
 */
export async function deleteGrant(db: Db, accountId: string, id: string, audit: AuditRow) {
  const grant = and(eq(oauthGrants.id, id), eq(oauthGrants.accountId, accountId));
  const [, , deleted] = await db.batch([
    insertAudit(db, audit, sql`EXISTS (SELECT 1 FROM ${oauthGrants} WHERE ${grant})`),
    db.delete(oauthTokens).where(and(eq(oauthTokens.grantId, id), eq(oauthTokens.accountId, accountId))),
    db.delete(oauthGrants).where(grant).returning({ id: oauthGrants.id }),
  ]);
  return deleted.length > 0;
}

export function deleteToken(db: Db, id: string) {
  return db.delete(oauthTokens).where(eq(oauthTokens.id, id)).run();
}

/** What a user holds, on every grant they gave in the account (the host told us it changed). */
export async function updateUserHoldings(
  db: Db,
  accountId: string,
  userId: string,
  holdings: Pick<OAuthGrantRow, "userRole" | "userPermissions" | "userProfileId">,
  now: number,
  audit: AuditRow,
) {
  const [rows] = await db.batch([
    db
      .update(oauthGrants)
      .set({ ...holdings, updatedAt: now })
      .where(and(eq(oauthGrants.accountId, accountId), eq(oauthGrants.userId, userId)))
      .returning({ id: oauthGrants.id }),
    insertAudit(
      db,
      audit,
      sql`EXISTS (SELECT 1 FROM ${oauthGrants} WHERE ${oauthGrants.accountId} = ${accountId} AND ${oauthGrants.userId} = ${userId})`,
    ),
  ]);
  return rows.length;
}

/** `lastUsedAt` of a grant, at most once a minute (the guard is in the statement). */
export function touchGrant(db: Db, id: string, now: number) {
  return db
    .update(oauthGrants)
    .set({ lastUsedAt: now })
    .where(and(eq(oauthGrants.id, id), or(isNull(oauthGrants.lastUsedAt), lt(oauthGrants.lastUsedAt, now - 60_000))))
    .run();
}

/** Decided consent requests past their expiry: the cron's (a request can no longer be posted by then). */
export function deleteExpiredConsents(db: Db, now: number, limit: number) {
  return db.run(sql`DELETE FROM ${oauthConsents} WHERE nonce IN (SELECT nonce FROM ${oauthConsents}
    WHERE ${oauthConsents.expiresAt} < ${now} LIMIT ${limit})`);
}

/** Codes, access and refresh tokens past their expiry by a day: the cron's, in bounded steps. */
export function deleteExpiredTokens(db: Db, now: number, limit: number) {
  return db.run(sql`DELETE FROM ${oauthTokens} WHERE id IN (SELECT id FROM ${oauthTokens}
    WHERE ${oauthTokens.expiresAt} < ${now - 86_400_000} LIMIT ${limit})`);
}

/**
 * Dynamically registered clients older than `before` that no user ever authorized: registration
 * is open, so what it writes must not pile up.
 */
export function deleteUnusedDynamicClients(db: Db, before: number, limit: number) {
  return db.run(sql`DELETE FROM ${oauthClients} WHERE id IN (SELECT c.id FROM ${oauthClients} c
    WHERE c.dynamic = 1 AND c.created_at < ${before}
      AND NOT EXISTS (SELECT 1 FROM ${oauthGrants} g WHERE g.client_id = c.id) LIMIT ${limit})`);
}

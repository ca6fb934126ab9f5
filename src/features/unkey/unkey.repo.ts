import { and, asc, eq, gt, isNull, or, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { asStatement, type Db } from "../../db/client";
import {
  type AuditRow,
  apiKeys,
  type IdentityRow,
  identities,
  type KeyPermissionRow,
  type KeyRoleRow,
  type KeyspaceRow,
  keyPermissions,
  keyRoles,
  keyspaces,
  type RatelimitOverrideRow,
  ratelimitOverrides,
} from "../../db/schema";
import { insertAudit } from "../audit/audit.repo";

/** The API and its audit entry, one batch. */
export async function insertKeyspace(db: Db, row: KeyspaceRow, audit: AuditRow) {
  await db.batch([db.insert(keyspaces).values(row), insertAudit(db, audit)]);
}

/** A live API of the account. */
export function findKeyspace(db: Db, accountId: string, id: string) {
  return db
    .select()
    .from(keyspaces)
    .where(and(eq(keyspaces.id, id), eq(keyspaces.accountId, accountId), isNull(keyspaces.deletedAt)))
    .get();
}

/** The API marked deleted and its live keys revoked, one batch: answers the keys' ids (to purge). */
export async function deleteKeyspace(db: Db, accountId: string, id: string, at: number, audit: AuditRow) {
  const [, revoked] = await db.batch([
    db
      .update(keyspaces)
      .set({ deletedAt: at })
      .where(and(eq(keyspaces.id, id), eq(keyspaces.accountId, accountId), isNull(keyspaces.deletedAt))),
    db
      .update(apiKeys)
      .set({ revokedAt: at, updatedAt: at })
      .where(and(eq(apiKeys.keyspaceId, id), eq(apiKeys.accountId, accountId), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id }),
    insertAudit(db, audit),
  ]);
  return revoked.map((r) => r.id);
}

/** `column` is one of a JSON list bound as one parameter, not a parameter per value (D1 binds at most 100). */
const inList = (column: SQLiteColumn, list: string) => sql`${column} IN (SELECT value FROM json_each(${list}))`;

// Identities.

/** An identity of the account by its id or its `externalId` (Unkey takes either). */
export function findIdentity(db: Db, accountId: string, ref: string) {
  return db
    .select()
    .from(identities)
    .where(and(eq(identities.accountId, accountId), or(eq(identities.id, ref), eq(identities.externalId, ref))))
    .get();
}

export async function insertIdentity(db: Db, row: IdentityRow, audit: AuditRow) {
  await db.batch([db.insert(identities).values(row), insertAudit(db, audit)]);
}

/** The identities of these external ids that do not exist yet, made (a key given one makes it). */
export async function ensureIdentities(db: Db, accountId: string, externalIds: string[], at: number) {
  if (externalIds.length === 0) return;
  await db.run(sql`INSERT INTO ${identities} (id, account_id, external_id, created_at, updated_at)
    SELECT 'id_' || lower(hex(randomblob(12))), ${accountId}, value, ${at}, ${at}
    FROM json_each(${JSON.stringify([...new Set(externalIds)])}) WHERE true
    ON CONFLICT DO NOTHING`);
}

export async function updateIdentity(db: Db, id: string, changes: Partial<IdentityRow>, audit: AuditRow) {
  const [rows] = await db.batch([
    db.update(identities).set(changes).where(eq(identities.id, id)).returning(),
    insertAudit(db, audit),
  ]);
  return rows[0];
}

/** The identity deleted and its keys left without one, one batch. */
export async function deleteIdentity(db: Db, row: IdentityRow, at: number, audit: AuditRow) {
  await db.batch([
    insertAudit(db, audit),
    db.delete(identities).where(eq(identities.id, row.id)),
    db
      .update(apiKeys)
      .set({ externalId: null, updatedAt: at })
      .where(and(eq(apiKeys.accountId, row.accountId), eq(apiKeys.externalId, row.externalId))),
  ]);
}

/** The account's identities by `externalId`, after `cursor`, those containing `search`. */
export function listIdentities(db: Db, accountId: string, limit: number, cursor?: string, search?: string) {
  return db
    .select()
    .from(identities)
    .where(
      and(
        eq(identities.accountId, accountId),
        cursor ? gt(identities.externalId, cursor) : undefined,
        search ? sql`instr(${identities.externalId}, ${search}) > 0` : undefined,
      ),
    )
    .orderBy(asc(identities.externalId))
    .limit(limit)
    .all();
}

/** The identities behind these external ids (for keys' answers). */
export function identitiesOf(db: Db, accountId: string, externalIds: string[]) {
  if (externalIds.length === 0) return Promise.resolve([]);
  return db
    .select()
    .from(identities)
    .where(
      and(
        eq(identities.accountId, accountId),
        inList(identities.externalId, JSON.stringify([...new Set(externalIds)])),
      ),
    )
    .all();
}

// Permissions and roles.

/** The catalog entries of these slugs that do not exist yet, made (giving a key or role one makes it). */
export async function ensurePermissions(db: Db, accountId: string, slugs: string[], at: number) {
  if (slugs.length === 0) return;
  await db.run(sql`INSERT INTO ${keyPermissions} (id, account_id, name, slug, created_at)
    SELECT 'perm_' || lower(hex(randomblob(12))), ${accountId}, value, value, ${at}
    FROM json_each(${JSON.stringify([...new Set(slugs)])}) WHERE true
    ON CONFLICT DO NOTHING`);
}

export async function insertPermission(db: Db, row: KeyPermissionRow, audit: AuditRow) {
  await db.batch([db.insert(keyPermissions).values(row), insertAudit(db, audit)]);
}

/** A permission of the account by its id or slug. */
export function findPermission(db: Db, accountId: string, ref: string) {
  return db
    .select()
    .from(keyPermissions)
    .where(and(eq(keyPermissions.accountId, accountId), or(eq(keyPermissions.id, ref), eq(keyPermissions.slug, ref))))
    .get();
}

/** The catalog entries of these slugs (or ids). */
export function permissionsOf(db: Db, accountId: string, refs: string[]) {
  if (refs.length === 0) return Promise.resolve([]);
  const distinct = JSON.stringify([...new Set(refs)]);
  return db
    .select()
    .from(keyPermissions)
    .where(
      and(
        eq(keyPermissions.accountId, accountId),
        or(inList(keyPermissions.slug, distinct), inList(keyPermissions.id, distinct)),
      ),
    )
    .all();
}

export function listPermissions(db: Db, accountId: string, limit: number, cursor?: string, search?: string) {
  return db
    .select()
    .from(keyPermissions)
    .where(
      and(
        eq(keyPermissions.accountId, accountId),
        cursor ? gt(keyPermissions.slug, cursor) : undefined,
        search
          ? sql`(instr(${keyPermissions.slug}, ${search}) > 0 OR instr(${keyPermissions.name}, ${search}) > 0)`
          : undefined,
      ),
    )
    .orderBy(asc(keyPermissions.slug))
    .limit(limit)
    .all();
}

/**
 * The permission gone from the catalog, from every key of the account's APIs and from every
 * role, one batch: answers the keys and roles it was taken from (to purge their records).
 */
export async function deletePermission(db: Db, row: KeyPermissionRow, at: number, audit: AuditRow) {
  const [, , keys, roles] = await db.$client.batch<{ id: string }>([
    asStatement(db, insertAudit(db, audit)),
    asStatement(db, db.delete(keyPermissions).where(eq(keyPermissions.id, row.id))),
    db.$client
      .prepare(`UPDATE api_keys
      SET scopes = (SELECT json_group_array(value) FROM json_each(api_keys.scopes) WHERE value != ?2), updated_at = ?3
      WHERE account_id = ?1 AND keyspace_id IS NOT NULL
        AND EXISTS (SELECT 1 FROM json_each(api_keys.scopes) WHERE value = ?2)
      RETURNING id`)
      .bind(row.accountId, row.slug, at),
    db.$client
      .prepare(`UPDATE key_roles
      SET permissions = (SELECT json_group_array(value) FROM json_each(key_roles.permissions) WHERE value != ?2)
      WHERE account_id = ?1 AND EXISTS (SELECT 1 FROM json_each(key_roles.permissions) WHERE value = ?2)
      RETURNING id`)
      .bind(row.accountId, row.slug),
  ]);
  return {
    keys: (keys?.results ?? []).map((k) => String(k.id)),
    roles: (roles?.results ?? []).map((r) => String(r.id)),
  };
}

export async function insertRole(db: Db, row: KeyRoleRow, audit: AuditRow) {
  await db.batch([db.insert(keyRoles).values(row), insertAudit(db, audit)]);
}

/** A role of the account by its id or name. */
export function findRole(db: Db, accountId: string, ref: string) {
  return db
    .select()
    .from(keyRoles)
    .where(and(eq(keyRoles.accountId, accountId), or(eq(keyRoles.id, ref), eq(keyRoles.name, ref))))
    .get();
}

/** The roles of these names (or ids). */
export function rolesOf(db: Db, accountId: string, refs: string[]) {
  if (refs.length === 0) return Promise.resolve([]);
  const distinct = JSON.stringify([...new Set(refs)]);
  return db
    .select()
    .from(keyRoles)
    .where(and(eq(keyRoles.accountId, accountId), or(inList(keyRoles.name, distinct), inList(keyRoles.id, distinct))))
    .all();
}

export function listRoles(db: Db, accountId: string, limit: number, cursor?: string, search?: string) {
  return db
    .select()
    .from(keyRoles)
    .where(
      and(
        eq(keyRoles.accountId, accountId),
        cursor ? gt(keyRoles.name, cursor) : undefined,
        search ? sql`instr(${keyRoles.name}, ${search}) > 0` : undefined,
      ),
    )
    .orderBy(asc(keyRoles.name))
    .limit(limit)
    .all();
}

export async function setRolePermissions(db: Db, id: string, permissions: string[], audit: AuditRow) {
  await db.batch([db.update(keyRoles).set({ permissions }).where(eq(keyRoles.id, id)), insertAudit(db, audit)]);
}

/** The role deleted and taken from every key of the account (keys hold roles by id), one batch. */
export async function deleteRole(db: Db, row: KeyRoleRow, at: number, audit: AuditRow) {
  await db.$client.batch([
    asStatement(db, insertAudit(db, audit)),
    asStatement(db, db.delete(keyRoles).where(eq(keyRoles.id, row.id))),
    db.$client
      .prepare(`UPDATE api_keys
      SET roles = (SELECT json_group_array(value) FROM json_each(api_keys.roles) WHERE value != ?2), updated_at = ?3
      WHERE account_id = ?1 AND roles IS NOT NULL
        AND EXISTS (SELECT 1 FROM json_each(api_keys.roles) WHERE value = ?2)`)
      .bind(row.accountId, row.id, at),
  ]);
}

// Rate limit overrides.

export function findOverride(db: Db, accountId: string, namespace: string, identifier: string) {
  return db
    .select()
    .from(ratelimitOverrides)
    .where(
      and(
        eq(ratelimitOverrides.accountId, accountId),
        eq(ratelimitOverrides.namespace, namespace),
        eq(ratelimitOverrides.identifier, identifier),
      ),
    )
    .get();
}

/** Made, or its limit and window replaced (its id kept): answers the row as stored. */
export async function upsertOverride(db: Db, row: RatelimitOverrideRow, audit: AuditRow) {
  const [rows] = await db.batch([
    db
      .insert(ratelimitOverrides)
      .values(row)
      .onConflictDoUpdate({
        target: [ratelimitOverrides.accountId, ratelimitOverrides.namespace, ratelimitOverrides.identifier],
        set: { limit: row.limit, duration: row.duration },
      })
      .returning(),
    insertAudit(db, audit),
  ]);
  return rows[0] ?? row;
}

export async function deleteOverride(db: Db, id: string, audit: AuditRow) {
  await db.batch([db.delete(ratelimitOverrides).where(eq(ratelimitOverrides.id, id)), insertAudit(db, audit)]);
}

export function listOverrides(db: Db, accountId: string, namespace: string, limit: number, cursor?: string) {
  return db
    .select()
    .from(ratelimitOverrides)
    .where(
      and(
        eq(ratelimitOverrides.accountId, accountId),
        eq(ratelimitOverrides.namespace, namespace),
        cursor ? gt(ratelimitOverrides.identifier, cursor) : undefined,
      ),
    )
    .orderBy(asc(ratelimitOverrides.identifier))
    .limit(limit)
    .all();
}

import type { KeyPermissionRow, KeyRoleRow } from "../../db/schema";
import { callerOf } from "../../http/middleware/auth";
import { newId } from "../../lib/encoding";
import { ApiError, uniqueWrite, validationError } from "../../lib/errors";
import { keysTags, roleTag } from "../edge/records";
import { audited, body, type C, type Op, ok, paged, present } from "./unkey.handlers";
import * as m from "./unkey.models";
import * as repo from "./unkey.repo";

/**
 * Unkey's permissions and roles (`permissions.*`, `keys.add/set/removeRoles`). A permission is a
 * slug matched exactly (`permission-query.ts`); the account's catalog lists them, and giving a key
 * or a role a slug it lacks adds it. A role is a named set of slugs; a key holds roles by id and
 * their permissions as they are now: verification reads them with the key, and a role's change
 * purges the records of its keys at the edge (`r:<account>:<role>`).
 */
const permissionData = (p: KeyPermissionRow) =>
  present({ id: p.id, name: p.name, slug: p.slug, description: p.description ?? undefined });

/** Slugs (or ids of the catalog) as slugs, each in the catalog: those it lacks are added. */
export async function grantable(c: C, refs: string[]): Promise<string[]> {
  if (refs.length === 0) return [];
  const { db, now } = c.var.services.platform;
  const known = await repo.permissionsOf(db, c.var.accountId, refs);
  const slugs = refs.map((r) => known.find((p) => p.id === r)?.slug ?? r);
  await repo.ensurePermissions(
    db,
    c.var.accountId,
    slugs.filter((s) => !known.some((p) => p.slug === s)),
    now(),
  );
  return [...new Set(slugs)];
}

/** The most roles one key holds (each is a tag on its edge record). */
const MAX_KEY_ROLES = 100;

/** Roles by name or id: their rows, in order, or 404 naming one that does not exist. */
export async function existingRoles(c: C, refs: string[]): Promise<KeyRoleRow[]> {
  if (refs.length === 0) return [];
  const rows = await repo.rolesOf(c.var.services.platform.db, c.var.accountId, refs);
  const out = refs.map((ref) => {
    const row = rows.find((r) => r.name === ref || r.id === ref);
    if (!row) throw new ApiError("not_found", `The role ${ref} does not exist`);
    return row;
  });
  return [...new Map(out.map((r) => [r.id, r])).values()];
}

/** A role as Unkey's `Role`, with its permissions from the catalog. */
async function roleData(c: C, roles: KeyRoleRow[]) {
  const catalog = await repo.permissionsOf(
    c.var.services.platform.db,
    c.var.accountId,
    roles.flatMap((r) => r.permissions),
  );
  return roles.map((r) =>
    present({
      id: r.id,
      name: r.name,
      description: r.description ?? undefined,
      permissions: r.permissions.flatMap((slug) => catalog.filter((p) => p.slug === slug).map(permissionData)),
    }),
  );
}

export function registerRbac(op: Op) {
  op("permissions.createPermission", "keys:write", async (c) => {
    const input = await body(c, m.CreatePermission);
    const { db, now } = c.var.services.platform;
    const at = now();
    const row: KeyPermissionRow = {
      id: newId("perm", at),
      accountId: c.var.accountId,
      name: input.name,
      slug: input.slug,
      description: input.description ?? null,
      createdAt: at,
    };
    await uniqueWrite(
      repo.insertPermission(
        db,
        row,
        audited(c, "permission.created", { type: "permission", id: row.id, name: row.slug }, null),
      ),
      "key_permissions.account_id, key_permissions.slug",
      () => new ApiError("conflict", `A permission with the slug ${input.slug} exists`),
    );
    return ok(c, { permissionId: row.id });
  });
  const permission = async (c: C, ref: string) => {
    const row = await repo.findPermission(c.var.services.platform.db, c.var.accountId, ref);
    if (!row) throw new ApiError("not_found", `The permission ${ref} does not exist`);
    return row;
  };
  op("permissions.getPermission", "keys:read", async (c) =>
    ok(c, permissionData(await permission(c, (await body(c, m.PermissionRef)).permission))),
  );
  op("permissions.listPermissions", "keys:read", async (c) => {
    const input = await body(c, m.ListPermissions);
    const { db } = c.var.services.platform;
    const rows = await repo.listPermissions(db, c.var.accountId, input.limit + 1, input.cursor, input.search);
    return paged(c, rows, input.limit, (r) => r.slug, permissionData);
  });
  op("permissions.deletePermission", "keys:write", async (c) => {
    const row = await permission(c, (await body(c, m.PermissionRef)).permission);
    const { platform, edge } = c.var.services;
    const target = { type: "permission", id: row.id, name: row.slug };
    const taken = await repo.deletePermission(
      platform.db,
      row,
      platform.now(),
      audited(c, "permission.deleted", target, null),
    );
    await edge.invalidate([...keysTags(row.accountId, taken.keys), ...taken.roles.map(roleTag)]);
    return ok(c, {});
  });

  op("permissions.createRole", "keys:write", async (c) => {
    const input = await body(c, m.CreateRole);
    const { db, now } = c.var.services.platform;
    const at = now();
    const row: KeyRoleRow = {
      id: newId("role", at),
      accountId: c.var.accountId,
      name: input.name,
      description: input.description ?? null,
      permissions: await grantable(c, input.permissions ?? []),
      createdAt: at,
    };
    const changes = { permissions: { before: null, after: row.permissions } };
    await uniqueWrite(
      repo.insertRole(db, row, audited(c, "role.created", { type: "role", id: row.id, name: row.name }, changes)),
      "key_roles.account_id, key_roles.name",
      () => new ApiError("conflict", `A role named ${input.name} exists`),
    );
    return ok(c, { roleId: row.id });
  });
  const role = async (c: C, ref: string) => {
    const row = await repo.findRole(c.var.services.platform.db, c.var.accountId, ref);
    if (!row) throw new ApiError("not_found", `The role ${ref} does not exist`);
    return row;
  };
  op("permissions.getRole", "keys:read", async (c) => {
    const row = await role(c, (await body(c, m.RoleRef)).role);
    return ok(c, (await roleData(c, [row]))[0]);
  });
  op("permissions.listRoles", "keys:read", async (c) => {
    const input = await body(c, m.ListRoles);
    const rows = await repo.listRoles(
      c.var.services.platform.db,
      c.var.accountId,
      input.limit + 1,
      input.cursor,
      input.search,
    );
    const shaped = await roleData(c, rows.slice(0, input.limit));
    return paged(
      c,
      rows,
      input.limit,
      (r) => r.name,
      (r) => shaped.find((s) => s.id === r.id),
    );
  });
  op("permissions.setRolePermissions", "keys:write", async (c) => {
    const input = await body(c, m.SetRolePermissions);
    const row = await role(c, input.roleId);
    const { platform, edge } = c.var.services;
    const permissions = await grantable(c, input.permissions);
    const changes = { permissions: { before: row.permissions, after: permissions } };
    const target = { type: "role", id: row.id, name: row.name };
    await repo.setRolePermissions(platform.db, row.id, permissions, audited(c, "role.updated", target, changes));
    await edge.invalidate([roleTag(row.id)]);
    const catalog = await repo.permissionsOf(platform.db, c.var.accountId, permissions);
    return ok(c, catalog.map(permissionData));
  });
  op("permissions.deleteRole", "keys:write", async (c) => {
    const row = await role(c, (await body(c, m.RoleRef)).role);
    const { platform, edge } = c.var.services;
    const target = { type: "role", id: row.id, name: row.name };
    await repo.deleteRole(platform.db, row, platform.now(), audited(c, "role.deleted", target, null));
    await edge.invalidate([roleTag(row.id)]);
    return ok(c, {});
  });

  // A key's roles: added to, replaced, or taken from; answered as they are after.
  const rolesOp = (name: string, apply: (held: string[], given: string[]) => string[]) =>
    op(name, "keys:write", async (c) => {
      const input = await body(c, m.KeyRoles);
      const { keys } = c.var.services;
      const caller = callerOf(c);
      const key = await keys.getForApi(caller, input.keyId);
      const given = (await existingRoles(c, input.roles)).map((r) => r.id);
      const roles = [...new Set(apply(key.roles ?? [], given))];
      if (roles.length > MAX_KEY_ROLES) {
        throw validationError([{ path: ["roles"], message: `a key holds at most ${MAX_KEY_ROLES} roles` }]);
      }
      await keys.updateForApi(caller, input.keyId, { roles: roles.length > 0 ? roles : null });
      return ok(c, await roleData(c, await repo.rolesOf(c.var.services.platform.db, c.var.accountId, roles)));
    });
  rolesOp("keys.addRoles", (held, given) => [...held, ...given]);
  rolesOp("keys.setRoles", (_held, given) => given);
  rolesOp("keys.removeRoles", (held, given) => held.filter((r) => !given.includes(r)));
}

import type { z } from "@hono/zod-openapi";
import type { Db } from "../../db/client";
import type { PermissionProfileRow } from "../../db/schema";
import { newId } from "../../lib/encoding";
import { ApiError } from "../../lib/errors";
import { assertCanGrant } from "../../lib/permissions";
import type { Principal } from "../../lib/principal";
import { found, iso, page } from "../../lib/schemas";
import { type AuditContext, auditRow, diff } from "../audit/audit.service";
import { forgetCachedKeys } from "../keys/keys.auth";
import * as repo from "./profiles.repo";
import type { CreateProfileBody, Profile, UpdateProfileBody } from "./profiles.routes";

export interface ProfileDeps {
  db: Db;
  principal: Principal;
  accountId: string;
  audit: AuditContext;
  now: number;
}

export function toProfile(row: PermissionProfileRow): z.infer<typeof Profile> {
  return {
    id: row.id,
    name: row.name,
    permissions: JSON.parse(row.permissions) as string[],
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

const audited = ({ name, permissions }: z.infer<typeof Profile>) => ({ name, permissions });

export async function createProfile(deps: ProfileDeps, input: z.infer<typeof CreateProfileBody>) {
  const { db, accountId, now } = deps;
  assertCanGrant(deps.principal.permissions, input.permissions);
  const row: PermissionProfileRow = {
    id: newId("pp", now),
    accountId,
    name: input.name,
    permissions: JSON.stringify([...new Set(input.permissions)]),
    createdAt: now,
    updatedAt: now,
  };
  const profile = toProfile(row);
  const target = { type: "permission_profile", id: row.id, name: row.name };
  const audit = auditRow(deps.audit, accountId, "permission_profile.created", target, diff(null, audited(profile)), now);
  await repo.insertProfile(db, row, audit);
  return profile;
}

export async function listProfiles(deps: ProfileDeps, limit: number, cursor: string | undefined) {
  const { items, nextCursor } = page(await repo.listProfiles(deps.db, deps.accountId, limit + 1, cursor), limit);
  return { profiles: items.map(toProfile), nextCursor };
}

export async function getProfile(deps: ProfileDeps, id: string) {
  return toProfile(found(await repo.findProfile(deps.db, deps.accountId, id), "Permission profile"));
}

export async function updateProfile(deps: ProfileDeps, id: string, input: z.infer<typeof UpdateProfileBody>) {
  const { db, accountId, now } = deps;
  if (input.permissions) assertCanGrant(deps.principal.permissions, input.permissions);
  const before = found(await repo.findProfile(db, accountId, id), "Permission profile");
  const after: PermissionProfileRow = {
    ...before,
    name: input.name ?? before.name,
    permissions: input.permissions ? JSON.stringify([...new Set(input.permissions)]) : before.permissions,
    updatedAt: now,
  };
  const changes = diff(audited(toProfile(before)), audited(toProfile(after)));
  const target = { type: "permission_profile", id, name: after.name };
  const audit = auditRow(deps.audit, accountId, "permission_profile.updated", target, changes, now);
  const updated = found(await repo.updateProfile(db, after, audit), "Permission profile");
  forgetCachedKeys();
  return toProfile(updated);
}

/** 409 while a live key holds the profile; the check and the delete are one statement. */
export async function deleteProfile(deps: ProfileDeps, id: string) {
  const { db, accountId, now } = deps;
  const profile = found(await repo.findProfile(db, accountId, id), "Permission profile");
  const target = { type: "permission_profile", id, name: profile.name };
  const audit = auditRow(deps.audit, accountId, "permission_profile.deleted", target, null, now);
  if (!(await repo.deleteUnusedProfile(db, accountId, id, audit))) {
    const holders = await repo.countKeysUsing(db, id);
    throw new ApiError("conflict", `${holders} API key(s) still use this profile; move them to another first`, {
      keys: holders,
    });
  }
}

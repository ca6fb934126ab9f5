import type { z } from "@hono/zod-openapi";
import type { PermissionProfileRow } from "../../db/schema";
import type { Caller } from "../../lib/caller";
import { newId } from "../../lib/encoding";
import { ApiError } from "../../lib/errors";
import { assertCanGrant } from "../../lib/permissions";
import { found, iso, page } from "../../lib/schemas";
import type { Platform } from "../../platform";
import { auditRow, diff } from "../audit/audit.service";
import type { EdgeService } from "../edge/edge.service";
import * as repo from "./profiles.repo";
import type { CreateProfileBody, Profile, UpdateProfileBody } from "./profiles.schemas";

function toProfile(row: PermissionProfileRow): z.infer<typeof Profile> {
  return {
    id: row.id,
    name: row.name,
    permissions: row.permissions,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

const audited = ({ name, permissions }: z.infer<typeof Profile>) => ({ name, permissions });

/** Permission profiles: named sets of permissions that keys and user tokens hold by reference. */
export function createProfilesService({ db, now }: Platform, deps: { edge: () => EdgeService }) {
  return {
    /** The profile of the caller's account, or undefined (another account's is undefined too). */
    find: (accountId: string, id: string) => repo.findProfile(db, accountId, id),

    async create(caller: Caller, input: z.infer<typeof CreateProfileBody>) {
      const at = now();
      assertCanGrant(caller.principal.permissions, input.permissions);
      const row: PermissionProfileRow = {
        id: newId("pp", at),
        accountId: caller.accountId,
        name: input.name,
        permissions: [...new Set(input.permissions)],
        createdAt: at,
        updatedAt: at,
      };
      const profile = toProfile(row);
      const target = { type: "permission_profile", id: row.id, name: row.name };
      const audit = auditRow(
        caller.audit,
        caller.accountId,
        "permission_profile.created",
        target,
        diff(null, audited(profile)),
        at,
      );
      await repo.insertProfile(db, row, audit);
      return profile;
    },

    async list(caller: Caller, limit: number, cursor: string | undefined) {
      const { items, nextCursor } = page(await repo.listProfiles(db, caller.accountId, limit + 1, cursor), limit);
      return { profiles: items.map(toProfile), nextCursor };
    },

    async get(caller: Caller, id: string) {
      return toProfile(found(await repo.findProfile(db, caller.accountId, id), "Permission profile"));
    },

    async update(caller: Caller, id: string, input: z.infer<typeof UpdateProfileBody>) {
      const at = now();
      if (input.permissions) assertCanGrant(caller.principal.permissions, input.permissions);
      const before = found(await repo.findProfile(db, caller.accountId, id), "Permission profile");
      const after: PermissionProfileRow = {
        ...before,
        name: input.name ?? before.name,
        permissions: input.permissions ? [...new Set(input.permissions)] : before.permissions,
        updatedAt: at,
      };
      const changes = diff(audited(toProfile(before)), audited(toProfile(after)));
      const target = { type: "permission_profile", id, name: after.name };
      const audit = auditRow(caller.audit, caller.accountId, "permission_profile.updated", target, changes, at);
      const updated = found(await repo.updateProfile(db, after, audit), "Permission profile");
      await deps.edge().invalidate([`p:${id}`]);
      return toProfile(updated);
    },

    /** 409 while a live key holds the profile; the check and the delete are one statement. */
    async remove(caller: Caller, id: string) {
      const profile = found(await repo.findProfile(db, caller.accountId, id), "Permission profile");
      const target = { type: "permission_profile", id, name: profile.name };
      const audit = auditRow(caller.audit, caller.accountId, "permission_profile.deleted", target, null, now());
      if (!(await repo.deleteUnusedProfile(db, caller.accountId, id, audit))) {
        const holders = await repo.countKeysUsing(db, id);
        throw new ApiError("conflict", `${holders} API key(s) still use this profile; move them to another first`, {
          keys: holders,
        });
      }
      // OAuth grants may still name it: their tokens' cached records lose its permissions.
      await deps.edge().invalidate([`p:${id}`]);
    },
  };
}

export type ProfilesService = ReturnType<typeof createProfilesService>;

import { z } from "@hono/zod-openapi";
import { PERMISSION_PATTERN } from "../../lib/permissions";
import { Timestamp } from "../../lib/schemas";

const Permissions = z
  .array(z.string().regex(PERMISSION_PATTERN, "must be resource:action, resource:*, * or impersonate"))
  .max(100)
  .openapi({ example: ["audits:read", "keys:read"] });

export const Profile = z
  .object({
    id: z.string(),
    name: z.string(),
    permissions: z.array(z.string()),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("PermissionProfile");

export const CreateProfileBody = z.strictObject({
  name: z.string().trim().min(1).max(100).openapi({ example: "Read-only analytics" }),
  permissions: Permissions,
});

export const UpdateProfileBody = z.strictObject({
  name: z.string().trim().min(1).max(100).optional(),
  permissions: Permissions.optional(),
});

export const ProfileEnvelope = z.object({ profile: Profile });

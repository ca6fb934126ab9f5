import type { z } from "@hono/zod-openapi";
import { hasPermission } from "../../lib/permissions";
import { iso, isoOrNull } from "../../lib/schemas";
import { keyPermissions } from "../auth/key-check";
import { creditsView } from "./credits";
import type { KeyWithProfile } from "./keys.repo";
import type { ApiKey } from "./keys.schemas";

type Badge = "no_permissions" | "can_impersonate" | "read_only";

/** What the UI shows next to a key's name. */
function badgesOf(permissions: string[]): Badge[] {
  if (permissions.length === 0) return ["no_permissions"];
  const badges: Badge[] = [];
  if (hasPermission(permissions, "impersonate")) badges.push("can_impersonate");
  if (permissions.every((p) => p.endsWith(":read"))) badges.push("read_only");
  return badges;
}

/** What the API shows of a key: never the secret, never its hash. */
export function toApiKey(
  { key: row, profilePermissions }: KeyWithProfile,
  // An object, so that `.map(toApiKey)` (which would pass the index) does not type-check.
  { now }: { now: number },
): z.infer<typeof ApiKey> {
  const permissions = keyPermissions(row, profilePermissions);
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    last4: row.last4,
    scopes: row.scopes,
    profileId: row.profileId,
    permissions,
    badges: badgesOf(permissions),
    enabled: row.enabled,
    rateLimitPerHour: row.rateLimitPerHour,
    credits: creditsView(row, now),
    metadata: row.metadata,
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    lastUsedAt: isoOrNull(row.lastUsedAt),
    expiresAt: isoOrNull(row.expiresAt),
  };
}

/** The audited fields of a key: everything a person may change, never a secret or hash. */
export function auditedFields(v: z.infer<typeof ApiKey>) {
  const { name, scopes, profileId, enabled, rateLimitPerHour, credits, metadata, expiresAt } = v;
  return { name, scopes, profileId, enabled, rateLimitPerHour, credits, metadata, expiresAt };
}

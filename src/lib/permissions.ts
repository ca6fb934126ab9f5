import { ApiError } from "./errors";

/** Keyhook's own permissions; hosts may add any other `resource:action` string. */
export const KEYHOOK_PERMISSIONS = [
  "keys:read",
  "keys:write",
  "keys:verify",
  "webhooks:read",
  "webhooks:write",
  "events:write",
  "events:replay",
  "audit:read",
  "oauth:read",
  "oauth:write",
  "portal:write",
  "impersonate",
] as const;

/** `resource:action`, `resource:*`, `*`, or the bare `impersonate`. */
export const PERMISSION_PATTERN = /^(\*|impersonate|[a-z][a-z0-9_.-]{0,63}:(\*|[a-z][a-z0-9_.-]{0,63}))$/;

/** Whether one granted permission covers the required one: wildcards, and `write` includes `read`. */
function covers(granted: string, required: string): boolean {
  if (granted === "*" || granted === required) return true;
  const [gRes, gAct] = granted.split(":");
  const [rRes, rAct] = required.split(":");
  if (gAct === undefined || rAct === undefined || gRes !== rRes) return false;
  return gAct === "*" || (gAct === "write" && rAct === "read");
}

export function hasPermission(granted: readonly string[], required: string): boolean {
  return granted.some((g) => covers(g, required));
}

/**
 * What both sets allow: each permission of one that the other covers (`*` ∩ `keys:read` =
 * `keys:read`; `keys:write` ∩ `keys:read` = `keys:read`). An OAuth token holds its scopes ∩ its user's.
 */
export function intersectPermissions(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a.filter((p) => hasPermission(b, p)), ...b.filter((p) => hasPermission(a, p))])];
}

/** The permissions in `required` that `granted` does not cover. */
export function missingPermissions(granted: readonly string[], required: readonly string[]): string[] {
  return required.filter((r) => !hasPermission(granted, r));
}

/** No one hands out rights they do not hold: 403 `insufficient_scope` naming the ones missing. */
export function assertCanGrant(granted: readonly string[], permissions: readonly string[]) {
  const missing = missingPermissions(granted, permissions);
  if (missing.length > 0) {
    throw new ApiError("insufficient_scope", `You cannot grant permissions you do not hold: ${missing.join(", ")}`, {
      missing,
    });
  }
}

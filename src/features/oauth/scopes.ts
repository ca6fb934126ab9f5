import { hasPermission, intersectPermissions, KEYHOOK_PERMISSIONS, PERMISSION_PATTERN } from "../../lib/permissions";
import { OAuthError } from "./oauth-error";

/**
 * What an app may be granted when it asks for everything: Keyhook's permissions but
 * `impersonate`, which is never an app's (an app acts for the user who consented, never as
 * another). Host-defined permissions are granted only when asked for by name.
 */
export const APP_SCOPES: readonly string[] = KEYHOOK_PERMISSIONS.filter((p) => p !== "impersonate");

/** Scopes as an app may hold them: `*` spelled out as {@link APP_SCOPES}, `impersonate` dropped. */
function appScopes(scopes: readonly string[]): string[] {
  return [...new Set(scopes.flatMap((s) => (s === "*" ? APP_SCOPES : s === "impersonate" ? [] : [s])))];
}

/**
 * The space-separated `scope`, each a permission the client may ask for; none = all it may.
 * `impersonate` is refused (`invalid_scope`); `*` is answered as {@link APP_SCOPES}.
 */
export function requestedScopes(scope: string | null | undefined, allowed: readonly string[]): string[] {
  if (!scope?.trim()) return appScopes(allowed);
  const scopes = [...new Set(scope.split(" ").filter(Boolean))];
  const bad = scopes.filter((s) => !PERMISSION_PATTERN.test(s));
  if (scopes.length > 100 || bad.length > 0) throw new OAuthError("invalid_scope", `Unknown scope: ${bad.join(" ")}`);
  if (scopes.includes("impersonate")) {
    throw new OAuthError("invalid_scope", "impersonate is never granted to an app");
  }
  const refused = scopes.filter((s) => !hasPermission(allowed, s));
  if (refused.length > 0) {
    throw new OAuthError("invalid_scope", `This client may not ask for: ${refused.join(" ")}`);
  }
  return appScopes(scopes);
}

/** What a user holds: everything for an admin, else their permissions and their profile's. */
function userHoldings(
  user: { userRole: "admin" | "member"; userPermissions: string[] },
  profilePermissions: string[] | null,
): string[] {
  if (user.userRole === "admin") return ["*"];
  return [...new Set([...user.userPermissions, ...(profilePermissions ?? [])])];
}

/**
 * What a token carries: its scopes (as an app may hold them) within what its user holds now; a
 * client acting as itself (no user) holds its scopes. The hot path, the token answer and
 * introspection all say this, so the three never disagree.
 */
export function heldScopes(
  scopes: readonly string[],
  user: { userRole: "admin" | "member"; userPermissions: string[] } | null,
  profilePermissions: string[] | null,
): string[] {
  const asApp = appScopes(scopes);
  return user ? intersectPermissions(asApp, userHoldings(user, profilePermissions)) : asApp;
}

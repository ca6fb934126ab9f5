import { z } from "zod";
import type { Settings } from "../../config";
import type { Db } from "../../db/client";
import { constantTimeEqual } from "../../lib/crypto";
import { ApiError } from "../../lib/errors";
import { PERMISSION_PATTERN } from "../../lib/permissions";
import type { Principal } from "../../lib/principal";
import { type UserTokenSettings, verifyUserToken } from "../../lib/user-token";
import { looksLikeApiKey } from "../keys/key-format";
import { looksLikeAccessToken } from "../oauth/tokens";
import { looksLikeOperatorKey } from "../operator-keys/operator-keys.service";
import { tokenAccount } from "./auth.repo";

/**
 * The kinds of credential Keyhook takes, told apart by shape — never by trying each: an OAuth
 * access token (`kh_at_…`), an operator key (`kh_op_…`), an API key (`<prefix>_<env>_…`), a user JWT, else the operator token.
 */
export type CredentialKind = "access_token" | "operator_key" | "api_key" | "user_token" | "operator";

const isJwtShaped = (credential: string) => /^eyJ[\w-]*\.[\w-]+\.[\w-]*$/.test(credential);

export function kindOf(credential: string, settings: Settings): CredentialKind {
  if (looksLikeAccessToken(credential, settings)) return "access_token";
  if (looksLikeOperatorKey(credential, settings)) return "operator_key";
  if (looksLikeApiKey(credential, settings)) return "api_key";
  if (isJwtShaped(credential)) return "user_token";
  return "operator";
}

const userClaims = z.object({
  sub: z.string().min(1).max(200),
  account_id: z.string().min(1).max(100),
  role: z.enum(["admin", "member"]),
  permissions: z.array(z.string().regex(PERMISSION_PATTERN)).max(100).optional(),
  profile_id: z.string().min(1).max(100).optional(),
  name: z.string().max(200).optional(),
});

/**
 * The claims Keyhook reads, from where the deployment says they are (`JWT_ACCOUNT_CLAIM`, …):
 * permissions may be an array or a space-separated string (an OAuth `scope`).
 */
function claimsOf(payload: Record<string, unknown>, names: UserTokenSettings["claims"]) {
  const permissions = payload[names.permissions];
  return {
    sub: payload.sub,
    account_id: payload[names.account],
    role: payload[names.role],
    permissions: typeof permissions === "string" ? permissions.split(" ").filter(Boolean) : permissions,
    profile_id: payload[names.profile],
    name: payload.name,
  };
}

/** A user token, checked: who, and what they hold (role, their own permissions, their profile). */
export interface UserIdentity {
  principal: Principal & { accountId: string };
  role: "admin" | "member";
  permissions: string[];
  profileId: string | null;
}

/**
 * A user token's principal. The account and the profile's permissions are read on every request:
 * a deleted account's tokens stop at once, and editing a profile changes its holders at once.
 */
export async function identifyUser(
  deps: { db: Db; settings: Settings; jwtSecret: string | undefined },
  token: string,
  now: number,
): Promise<UserIdentity> {
  const tokens = deps.settings.userTokens;
  const result = await verifyUserToken(token, tokens, deps.jwtSecret ?? "", Math.floor(now / 1000));
  if (!result.ok)
    throw new ApiError("invalid_credentials", result.reason === "expired" ? "Token has expired" : "Invalid token");
  const claims = userClaims.safeParse(claimsOf(result.payload, tokens.claims));
  if (!claims.success) throw new ApiError("invalid_credentials", "Token claims are invalid");
  const { sub, account_id, role, permissions = [], profile_id, name } = claims.data;
  const account = await tokenAccount(deps.db, account_id, profile_id ?? null);
  if (!account) throw new ApiError("not_found", "Account not found");
  const fromProfile = account.permissions ?? [];
  return {
    principal: {
      type: "user",
      id: sub,
      name: name ?? sub,
      accountId: account_id,
      permissions: role === "admin" ? ["*"] : [...new Set([...permissions, ...fromProfile])],
    },
    role,
    permissions: [...new Set(permissions)],
    profileId: profile_id ?? null,
  };
}

/** The operator token, compared in constant time; the operator acts in `accountId` (`X-Account-Id`). */
export async function identifyOperator(
  adminToken: string | undefined,
  token: string,
  accountId: string | null,
): Promise<Principal> {
  if (!adminToken || !(await constantTimeEqual(token, adminToken))) {
    throw new ApiError("invalid_credentials", "Invalid credentials");
  }
  return { type: "operator", id: "operator", name: "Operator", accountId, permissions: ["*"] };
}

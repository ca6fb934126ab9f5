import { createMiddleware } from "hono/factory";
import { z } from "zod";
import type { AppEnv } from "../context";
import { authenticateApiKey } from "../features/keys/keys.auth";
import { looksLikeApiKey } from "../features/keys/key-format";
import { findAccount } from "../features/accounts/accounts.repo";
import { constantTimeEqual } from "../lib/crypto";
import { ApiError } from "../lib/errors";
import { verifyHs256 } from "../lib/jwt";
import { missingPermissions, PERMISSION_PATTERN } from "../lib/permissions";
import type { Principal } from "../lib/principal";

const userClaims = z.object({
  sub: z.string().min(1).max(200),
  account_id: z.string().min(1).max(100),
  role: z.enum(["admin", "member"]),
  permissions: z.array(z.string().regex(PERMISSION_PATTERN)).max(100).optional(),
  name: z.string().max(200).optional(),
});

/** The credential, from `Authorization: Bearer`, `X-API-Key`, or (only if enabled) `?api_key=`. */
function readCredential(req: Request, url: URL, allowQuery: boolean): string | null {
  const authorization = req.headers.get("authorization");
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new ApiError("invalid_credentials", "Authorization must be 'Bearer <token>'");
    return match[1]!;
  }
  const header = req.headers.get("x-api-key");
  if (header) return header.trim();
  const query = url.searchParams.get("api_key");
  if (query !== null) {
    if (!allowQuery) {
      throw new ApiError("invalid_credentials", "API keys in the query string are disabled; send the X-API-Key header");
    }
    return query;
  }
  return null;
}

const isJwtShaped = (credential: string) => /^eyJ[\w-]*\.[\w-]+\.[\w-]*$/.test(credential);

async function authenticateUser(token: string, secret: string, now: number): Promise<Principal> {
  const result = await verifyHs256(token, secret, Math.floor(now / 1000));
  if (!result.ok) {
    throw new ApiError("invalid_credentials", result.reason === "expired" ? "Token has expired" : "Invalid token");
  }
  const claims = userClaims.safeParse(result.payload);
  if (!claims.success) throw new ApiError("invalid_credentials", "Token claims are invalid");
  const { sub, account_id, role, permissions, name } = claims.data;
  return {
    type: "user",
    id: sub,
    name: name ?? sub,
    accountId: account_id,
    permissions: role === "admin" ? ["*"] : (permissions ?? []),
  };
}

async function authenticateOperator(token: string, adminToken: string | undefined, accountHeader: string | null) {
  if (!adminToken || !(await constantTimeEqual(token, adminToken))) {
    throw new ApiError("invalid_credentials", "Invalid credentials");
  }
  const principal: Principal = {
    type: "operator",
    id: "operator",
    name: "Operator",
    accountId: accountHeader,
    permissions: ["*"],
  };
  return principal;
}

/**
 * Sets `c.var.principal`. The three kinds of credential are told apart by shape — our key prefix, a
 * JWT's three base64url parts, anything else is an operator token — never by trying each in turn.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const { settings, db } = c.var;
  const credential = readCredential(c.req.raw, new URL(c.req.url), settings.allowKeyInQuery);
  if (!credential) {
    throw new ApiError("missing_credentials", "Send an API key (X-API-Key or Authorization: Bearer) or a token");
  }
  const now = Date.now();
  let principal: Principal;
  if (looksLikeApiKey(credential, settings)) {
    principal = await authenticateApiKey(db, settings, credential, now, (p) => c.executionCtx.waitUntil(p));
  } else if (isJwtShaped(credential)) {
    principal = await authenticateUser(credential, c.env.JWT_SECRET, now);
  } else {
    principal = await authenticateOperator(credential, c.env.ADMIN_TOKEN, c.req.header("x-account-id") ?? null);
  }
  c.set("principal", principal);
  await next();
});

/** 403 `insufficient_scope`, naming what is missing. */
export const requireScope = (...required: string[]) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const missing = missingPermissions(c.var.principal.permissions, required);
    if (missing.length > 0) {
      throw new ApiError("insufficient_scope", `Missing permission: ${missing.join(", ")}`, { missing });
    }
    await next();
  });

export const requireOperator = createMiddleware<AppEnv>(async (c, next) => {
  if (c.var.principal.type !== "operator") {
    throw new ApiError("insufficient_scope", "Only the operator token can manage accounts", { missing: ["operator"] });
  }
  await next();
});

/**
 * Sets `c.var.accountId`. Users and keys act in their own account; the operator names one in
 * `X-Account-Id` (missing: 400, unknown: 404) — the only extra D1 read, and only for the operator.
 */
export const requireAccount = createMiddleware<AppEnv>(async (c, next) => {
  const { principal, db } = c.var;
  if (principal.type === "operator") {
    if (!principal.accountId) {
      throw new ApiError("missing_account", "The operator must name the account in the X-Account-Id header");
    }
    if (!(await findAccount(db, principal.accountId))) throw new ApiError("not_found", "Account not found");
  }
  c.set("accountId", principal.accountId!);
  await next();
});

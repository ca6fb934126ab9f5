import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { z } from "zod";
import type { AppEnv } from "../context";
import { findAccount } from "../features/accounts/accounts.repo";
import { looksLikeApiKey } from "../features/keys/key-format";
import { authenticateApiKey, recordUse } from "../features/keys/keys.auth";
import { findProfile } from "../features/profiles/profiles.repo";
import {
  AUTH_FAILURE_WINDOW_SECONDS,
  authFailures,
  clientKey,
  keyRequests,
  rateLimited,
  rateLimitHeaders,
} from "../features/ratelimit/limits";
import { constantTimeEqual } from "../lib/crypto";
import { ApiError } from "../lib/errors";
import { verifyHs256 } from "../lib/jwt";
import { hasPermission, missingPermissions, PERMISSION_PATTERN } from "../lib/permissions";
import type { Principal } from "../lib/principal";
import { type AuditContext, auditContext } from "../features/audit/audit.service";

const userClaims = z.object({
  sub: z.string().min(1).max(200),
  account_id: z.string().min(1).max(100),
  role: z.enum(["admin", "member"]),
  permissions: z.array(z.string().regex(PERMISSION_PATTERN)).max(100).optional(),
  profile_id: z.string().min(1).max(100).optional(),
  name: z.string().max(200).optional(),
});

/** The credential, from `Authorization: Bearer`, `X-API-Key`, or (only if enabled) `?api_key=`. */
function readCredential(req: Request, allowQuery: boolean): string | null {
  const authorization = req.headers.get("authorization");
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new ApiError("invalid_credentials", "Authorization must be 'Bearer <token>'");
    return match[1]!;
  }
  const header = req.headers.get("x-api-key");
  if (header) return header.trim();
  // The URL is parsed only when it has a query string: most requests never pay for it.
  const query = req.url.includes("?") ? new URL(req.url).searchParams.get("api_key") : null;
  if (query !== null) {
    if (!allowQuery) {
      throw new ApiError("invalid_credentials", "API keys in the query string are disabled; send the X-API-Key header");
    }
    return query;
  }
  return null;
}

const isJwtShaped = (credential: string) => /^eyJ[\w-]*\.[\w-]+\.[\w-]*$/.test(credential);

async function authenticateUser(c: Context<AppEnv>, token: string, now: number): Promise<Principal> {
  const result = await verifyHs256(token, c.env.JWT_SECRET, Math.floor(now / 1000));
  if (!result.ok) {
    throw new ApiError("invalid_credentials", result.reason === "expired" ? "Token has expired" : "Invalid token");
  }
  const claims = userClaims.safeParse(result.payload);
  if (!claims.success) throw new ApiError("invalid_credentials", "Token claims are invalid");
  const { sub, account_id, role, permissions = [], profile_id, name } = claims.data;
  // A profile's permissions are read on every request, so editing it changes its holders at once.
  const profile = profile_id ? await findProfile(c.var.db, account_id, profile_id) : undefined;
  const fromProfile = profile ? (JSON.parse(profile.permissions) as string[]) : [];
  return {
    type: "user",
    id: sub,
    name: name ?? sub,
    accountId: account_id,
    permissions: role === "admin" ? ["*"] : [...new Set([...permissions, ...fromProfile])],
  };
}

async function authenticateOperator(c: Context<AppEnv>, token: string): Promise<Principal> {
  const adminToken = c.env.ADMIN_TOKEN;
  if (!adminToken || !(await constantTimeEqual(token, adminToken))) {
    throw new ApiError("invalid_credentials", "Invalid credentials");
  }
  const accountId = c.req.header("x-account-id") ?? null;
  return { type: "operator", id: "operator", name: "Operator", accountId, permissions: ["*"] };
}

/** Counts one request against the key's hourly limit; 429 when spent. Returns the headers to send. */
async function spendRateLimit(c: Context<AppEnv>, keyId: string, limit: number, now: number) {
  const hit = await keyRequests(c.env.RATE_LIMITS).hit(keyId, limit, now, (p) => c.executionCtx.waitUntil(p));
  const headers = rateLimitHeaders(hit, now);
  if (!hit.allowed) {
    throw rateLimited(`Rate limit of ${limit} requests per hour reached for this key`, hit.resetAt, now, headers);
  }
  return headers;
}

/** Identifies the caller; for keys, also counts the request and records the use. */
async function identify(c: Context<AppEnv>, credential: string, now: number) {
  const { settings, db } = c.var;
  if (looksLikeApiKey(credential, settings)) {
    const auth = await authenticateApiKey(db, settings, credential, now);
    const headers = await spendRateLimit(c, auth.key.id, auth.rateLimitPerHour, now);
    await recordUse(db, auth.key, now, (p) => c.executionCtx.waitUntil(p));
    return { principal: auth.principal, headers, webhooksVersion: auth.webhooksVersion };
  }
  if (isJwtShaped(credential)) {
    return { principal: await authenticateUser(c, credential, now), headers: {}, webhooksVersion: null };
  }
  return { principal: await authenticateOperator(c, credential), headers: {}, webhooksVersion: null };
}

/** `X-Act-As: <userId>`: needs the `impersonate` permission; both identities are kept. */
function applyImpersonation(c: Context<AppEnv>, principal: Principal): Principal {
  const actAs = c.req.header("x-act-as")?.trim();
  if (!actAs) return principal;
  if (!hasPermission(principal.permissions, "impersonate")) {
    throw new ApiError("insufficient_scope", "Missing permission: impersonate (needed for X-Act-As)", {
      missing: ["impersonate"],
    });
  }
  if (actAs.length > 200) throw new ApiError("validation_failed", "X-Act-As must be a user id of at most 200 characters");
  return { ...principal, onBehalfOf: { type: "user", id: actAs } };
}

/**
 * Sets `c.var.principal`. The three kinds of credential are told apart by shape — our key prefix,
 * a JWT's three base64url parts, anything else is an operator token — never by trying each.
 * A client IP with too many failed attempts is refused before any lookup: the check is in
 * memory; KV is only touched when an attempt fails.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const now = Date.now();
  const failures = authFailures(c.env.RATE_LIMITS);
  const client = clientKey(c.req.raw);
  const failureLimit = c.var.settings.authFailureLimit;
  const known = failures.knownTotal(client, now);
  if (known !== null && known >= failureLimit) {
    const resetAt = failures.windowStart(now) + AUTH_FAILURE_WINDOW_SECONDS * 1000;
    throw rateLimited("Too many failed authentication attempts from this address", resetAt, now);
  }
  const credential = readCredential(c.req.raw, c.var.settings.allowKeyInQuery);
  if (!credential) {
    throw new ApiError("missing_credentials", "Send an API key (X-API-Key or Authorization: Bearer) or a token");
  }
  let identified: Awaited<ReturnType<typeof identify>>;
  try {
    identified = await identify(c, credential, now);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      await failures.add(client, now, (p) => c.executionCtx.waitUntil(p));
    }
    throw err;
  }
  c.set("principal", applyImpersonation(c, identified.principal));
  c.set("webhooksVersion", identified.webhooksVersion);
  await next();
  for (const [name, value] of Object.entries(identified.headers)) c.res.headers.set(name, value);
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
    const account = await findAccount(db, principal.accountId);
    if (!account) throw new ApiError("not_found", "Account not found");
    c.set("webhooksVersion", account.webhooksVersion);
  }
  c.set("accountId", principal.accountId!);
  await next();
});

/** Who is acting, and from where, for the audit entries a handler's service writes. */
export const auditOf = (c: Context<AppEnv>): AuditContext => auditContext(c.var.principal, c.req.raw, c.var.requestId);

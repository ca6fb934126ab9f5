import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { Admission } from "../../features/auth/auth.service";
import { type AuditContext, type Caller, callerOf as makeCaller } from "../../lib/caller";
import { ApiError } from "../../lib/errors";
import { IsolateMap } from "../../lib/isolate-memory";
import { hasPermission, missingPermissions } from "../../lib/permissions";
import { toActor } from "../../lib/principal";
import type { AppEnv } from "../context";

/** The credential, from `Authorization: Bearer`, `X-API-Key`, or (only if enabled) `?api_key=`. */
function readCredential(req: Request, allowQuery: boolean): string | null {
  const authorization = req.headers.get("authorization");
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new ApiError("invalid_credentials", "Authorization must be 'Bearer <token>'");
    return match[1] ?? "";
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

/** The client address the failed-auth limiter counts by (`:` would clash with the counter's key layout). */
const clientIp = (req: Request) => (req.headers.get("cf-connecting-ip") ?? "local").replace(/[^0-9A-Za-z.]/g, "-");

/**
 * Requests Keyhook makes to itself for a caller it has already admitted (an MCP tool call runs
 * its route through the app), so the credential is not checked and counted twice. The request
 * carries a random one-time handle (`X-Keyhook-Admitted`), never the admission: a handle from
 * outside names nothing in this map and is ignored.
 */
const preAdmitted = new IsolateMap<string, Pick<Admission, "principal" | "webhooksVersion">>(
  "admissions handed to internal requests",
  1_000,
);
export const ADMITTED_HEADER = "x-keyhook-admitted";

/**
 * Hands an admitted caller to the requests `run` makes to the app (each carrying `handle` in
 * {@link ADMITTED_HEADER}); the handle is forgotten when `run` ends, however it ends.
 */
export async function withAdmission<T>(
  admission: Pick<Admission, "principal" | "webhooksVersion">,
  run: (handle: string) => Promise<T>,
): Promise<T> {
  const handle = crypto.randomUUID();
  preAdmitted.set(handle, admission);
  try {
    return await run(handle);
  } finally {
    preAdmitted.delete(handle);
  }
}

/**
 * Sets `c.var.principal`: reads the credential and the headers that shape it, lets the
 * authentication service admit it (`services.auth.admit`), and writes the rate-limit headers
 * it answers with onto the response.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const handle = c.req.header(ADMITTED_HEADER);
  const admitted = handle ? preAdmitted.get(handle) : undefined;
  if (admitted) {
    c.set("principal", admitted.principal);
    c.set("webhooksVersion", admitted.webhooksVersion);
    return next();
  }
  const { services } = c.var;
  const credential = readCredential(c.req.raw, services.platform.settings.allowKeyInQuery);
  if (!credential) {
    throw new ApiError("missing_credentials", "Send an API key (X-API-Key or Authorization: Bearer) or a token");
  }
  const admission = await services.auth.admit(credential, {
    clientIp: clientIp(c.req.raw),
    accountId: c.req.header("x-account-id") ?? null,
    actAs: c.req.header("x-act-as") ?? null,
  });
  c.set("principal", admission.principal);
  c.set("webhooksVersion", admission.webhooksVersion);
  await next();
  for (const [name, value] of Object.entries(admission.headers)) c.res.headers.set(name, value);
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

/** 403 `insufficient_scope` unless one of `alternatives` is held (replay: `events:replay` or `webhooks:write`). */
export const requireAnyScope = (...alternatives: string[]) =>
  createMiddleware<AppEnv>(async (c, next) => {
    if (!alternatives.some((p) => missingPermissions(c.var.principal.permissions, [p]).length === 0)) {
      throw new ApiError("insufficient_scope", `Missing permission: one of ${alternatives.join(", ")}`, {
        missing: alternatives,
      });
    }
    await next();
  });

/**
 * The operator: `ADMIN_TOKEN` (every scope) or an operator key holding `operator:read` (GET, HEAD)
 * or `operator:write` (anything else; it includes read).
 */
export const requireOperator = createMiddleware<AppEnv>(async (c, next) => {
  const { principal } = c.var;
  if (principal.type !== "operator") {
    throw new ApiError("insufficient_scope", "Only the operator token or an operator key may do this", {
      missing: ["operator"],
    });
  }
  const needed = c.req.method === "GET" || c.req.method === "HEAD" ? "operator:read" : "operator:write";
  if (!hasPermission(principal.permissions, needed)) {
    throw new ApiError("insufficient_scope", `Missing permission: ${needed}`, { missing: [needed] });
  }
  await next();
});

/**
 * Sets `c.var.accountId`. Users and keys act in their own account; the operator names one in
 * `X-Account-Id` (missing: 400, unknown: 404) — the only extra D1 read, and only for the operator.
 */
export const requireAccount = createMiddleware<AppEnv>(async (c, next) => {
  const { principal, services } = c.var;
  const { accountId } = principal;
  if (!accountId) {
    throw new ApiError("missing_account", "The operator must name the account in the X-Account-Id header");
  }
  if (principal.type === "operator") {
    const account = await services.accounts.find(accountId);
    if (!account) throw new ApiError("not_found", "Account not found");
    c.set("webhooksVersion", account.webhooksVersion);
  }
  c.set("accountId", accountId);
  await next();
});

const originOf = (c: Context<AppEnv>) => ({
  ip: c.req.header("cf-connecting-ip") ?? null,
  userAgent: c.req.header("user-agent")?.slice(0, 512) ?? null,
  requestId: c.var.requestId,
});

/** The caller a tenant-scoped handler passes to its service: who, in which account, from where. */
export const callerOf = (c: Context<AppEnv>): Caller =>
  makeCaller(c.var.principal, c.var.accountId, originOf(c), c.var.webhooksVersion ?? null);

/** Who is acting and from where, for a route outside any account (the operator's `/v1/accounts`). */
export const auditOf = (c: Context<AppEnv>): AuditContext => ({
  actor: toActor(c.var.principal),
  onBehalfOf: c.var.principal.onBehalfOf ?? null,
  ...originOf(c),
});

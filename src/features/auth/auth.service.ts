import { z } from "zod";
import type { Platform } from "../../compose";
import type { UserTokenSettings } from "../../lib/config";
import { constantTimeEqual } from "../../lib/crypto";
import { ApiError, refusalOf, type VerifyCode } from "../../lib/errors";
import { hasPermission, missingPermissions, PERMISSION_PATTERN } from "../../lib/permissions";
import type { Principal } from "../../lib/principal";
import { isoOrNull } from "../../lib/schemas";
import { verifyUserToken } from "../../lib/user-token";
import { countVerification } from "../analytics/counter";
import type { EventsService } from "../events/events.service";
import {
  boundaryParams,
  type CreditColumns,
  crossings,
  effectiveRemaining,
  lowThreshold,
  nextRefillAt,
} from "../keys/credits";
import { looksLikeApiKey } from "../keys/key-format";
import { type AccessCheck, checkAccessToken } from "../oauth/access";
import { looksLikeAccessToken } from "../oauth/tokens";
import {
  AUTH_FAILURE_WINDOW_SECONDS,
  authFailures,
  keyRequests,
  rateLimited,
  rateLimitHeaders,
} from "../ratelimit/limits";
import type { Hit } from "../ratelimit/sharded-counter";
import { type AuthKey, refundCredits, spendCredits, tokenAccount } from "./auth.repo";
import { checkApiKey, type KeyCheck, recordUse } from "./key-check";

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

const isJwtShaped = (credential: string) => /^eyJ[\w-]*\.[\w-]+\.[\w-]*$/.test(credential);

/** An admitted caller, and the headers its answer carries (rate limits, for keys). */
export interface Admission {
  principal: Principal;
  headers: Record<string, string>;
  /** The account's `webhooksVersion`, when the key lookup read it. */
  webhooksVersion: number | null;
}

export interface AdmitOptions {
  /** The client's address: failed attempts are counted per address. */
  clientIp: string;
  /** The operator's `X-Account-Id`. */
  accountId?: string | null;
  /** `X-Act-As`: the user a principal with `impersonate` acts as. */
  actAs?: string | null;
}

/** What `POST /v1/keys/verify` and `KeyhookRpc.verify` answer. */
export interface Verdict {
  valid: boolean;
  code: VerifyCode;
  keyId: string | null;
  accountId: string | null;
  name: string | null;
  scopes: string[] | null;
  ratelimit: { limit: number; remaining: number; reset: number } | null;
  /** Keys with usage credits: what is left after this verification, and when the next refill is. */
  credits: { remaining: number; nextRefillAt: string | null } | null;
  expiresAt: string | null;
  metadata: Record<string, unknown> | null;
  /** An OAuth access token: its client, and the user it acts for (null: the client as itself). */
  oauth: { clientId: string; userId: string | null } | null;
}

const emptyVerdict = (code: VerifyCode): Verdict => ({
  valid: false,
  code,
  keyId: null,
  accountId: null,
  name: null,
  scopes: null,
  ratelimit: null,
  credits: null,
  expiresAt: null,
  metadata: null,
  oauth: null,
});

/** An access token's refusal, as a key's verdict code names it. */
const tokenRefusal = { invalid: "NOT_FOUND", expired: "EXPIRED", plan: "PLAN_BLOCKED" } as const;

/** A key's credits as an answer shows them: what is left, and when (unix ms) the next refill comes. */
interface Credits {
  remaining: number;
  nextRefillAt: number | null;
}

type KeyAdmission =
  | { ok: true; check: Extract<KeyCheck, { ok: true }>; hit: Hit; limit: number; credits: Credits | null }
  | {
      ok: false;
      code: Exclude<VerifyCode, "VALID">;
      key?: AuthKey;
      hit?: Hit;
      limit?: number;
      check?: Extract<KeyCheck, { ok: true }>;
      credits?: Credits | null;
    };

export interface AuthDeps {
  events: () => EventsService;
}

/**
 * Authentication: the one path every credential takes — the HTTP middleware, `POST
 * /v1/keys/verify` and `KeyhookRpc.verify`. A key is checked (checksum, one D1 read), counted
 * against its hourly limit, and its use recorded; a user token and the operator token are told
 * apart by shape, never by trying each.
 */
export function createAuthService(platform: Platform, deps: AuthDeps) {
  const { db, settings, kv, secrets, waitUntil } = platform;
  const requests = keyRequests(kv, platform.log);
  const failures = authFailures(kv, platform.log);

  /** `api_key.credits_low` / `api_key.credits_exhausted`, after the answer, when a spend crossed one. */
  function announceCrossings(check: Extract<KeyCheck, { ok: true }>, after: CreditColumns, cost: number, now: number) {
    for (const crossing of crossings(after, after.creditsRemaining ?? 0, cost)) {
      const { id, name, accountId } = check.key;
      const entity =
        crossing === "low"
          ? { id, name, remaining: after.creditsRemaining, threshold: lowThreshold(after) }
          : { id, name, nextRefillAt: isoOrNull(nextRefillAt(after, now)) };
      waitUntil(
        deps
          .events()
          .publish(
            { accountId, webhooksVersion: check.webhooksVersion },
            { type: `api_key.credits_${crossing}`, entity },
          )
          .catch((err) => platform.log("error", "could not publish a credits event", { error: String(err) })),
      );
    }
  }

  /**
   * Spends `cost` of a key's credits once every other check passed (unless the lookup already did);
   * the verdict's credits, or USAGE_EXCEEDED. `cost` 0 checks that something is left.
   */
  async function spend(
    check: Extract<KeyCheck, { ok: true }>,
    cost: number,
    now: number,
  ): Promise<{ ok: true; credits: Credits | null } | { ok: false; credits: Credits }> {
    const key = check.key;
    if (key.creditsRemaining === null && !check.spent) return { ok: true, credits: null };
    let after: CreditColumns | null = check.spent;
    if (!after) {
      const left = effectiveRemaining(key, now) ?? 0;
      const exhausted = { ok: false as const, credits: { remaining: left, nextRefillAt: nextRefillAt(key, now) } };
      if (cost === 0) return left > 0 ? { ok: true, credits: exhausted.credits } : exhausted;
      if (left < cost) return exhausted;
      after = await spendCredits(db, key.id, cost, now, boundaryParams(now));
      if (!after) return exhausted; // spent by a concurrent request in between
    }
    announceCrossings(check, after, cost, now);
    return { ok: true, credits: { remaining: after.creditsRemaining ?? 0, nextRefillAt: nextRefillAt(after, now) } };
  }

  /** Every verification's outcome is counted (features/analytics/counter.ts): in memory, flushed later. */
  async function admitKey(
    key: string,
    now: number,
    opts: { scopes?: string[]; accountId?: string | null; cost?: number } = {},
  ): Promise<KeyAdmission> {
    const admission = await decideKey(key, now, opts);
    const found = admission.ok ? admission.check.key : admission.key;
    // The key's account, or the verifying caller's (an unknown key, or another account's: counted
    // there as a key not found, never in the other account). Unknown and no caller: not counted.
    const mine = found && (!opts.accountId || found.accountId === opts.accountId) ? found : null;
    const accountId = mine?.accountId ?? opts.accountId ?? null;
    if (accountId) {
      const outcome = admission.ok ? "VALID" : admission.code;
      countVerification(db, waitUntil, platform.log, { accountId, keyId: mine?.id ?? "", outcome }, now);
    }
    return admission;
  }

  /** check → (the caller's account) → hourly limit → (scopes) → credits spent → use recorded. */
  async function decideKey(
    key: string,
    now: number,
    opts: { scopes?: string[]; accountId?: string | null; cost?: number } = {},
  ): Promise<KeyAdmission> {
    const cost = opts.cost ?? 1;
    const check = await checkApiKey(db, settings, key, now, cost);
    /** A refusal after the lookup already spent: the credits go back. */
    const refused = async (admission: Extract<KeyAdmission, { ok: false }>) => {
      if (check.ok && check.spent) {
        await refundCredits(db, check.key.id, cost);
        check.key.creditsRemaining = (check.key.creditsRemaining ?? 0) + cost;
      }
      return admission;
    };
    // Another account's key is not found, whatever its state: existence never leaks across accounts.
    if (opts.accountId && check.key && check.key.accountId !== opts.accountId) {
      return refused({ ok: false, code: "NOT_FOUND" });
    }
    if (!check.ok) return check;
    const limit = check.key.rateLimitPerHour ?? check.limits.rateLimitPerHour;
    const hit = await requests.hit(check.key.id, limit, now, waitUntil);
    if (!hit.allowed) return refused({ ok: false, code: "RATE_LIMITED", key: check.key, hit, limit, check });
    if (opts.scopes && missingPermissions(check.permissions, opts.scopes).length > 0) {
      return refused({ ok: false, code: "INSUFFICIENT_SCOPE", key: check.key, hit, limit, check });
    }
    const spent = await spend(check, cost, now);
    if (!spent.ok)
      return { ok: false, code: "USAGE_EXCEEDED", key: check.key, hit, limit, check, credits: spent.credits };
    // The spending statement recorded the use already.
    if (!(spent.credits && cost > 0)) await recordUse(db, check.key, now, waitUntil);
    return { ok: true, check, hit, limit, credits: spent.credits };
  }

  /** A user token's principal, and what the user holds (role, own permissions, profile). */
  async function user(token: string, now: number) {
    const tokens = settings.userTokens;
    const result = await verifyUserToken(token, tokens, secrets.jwtSecret ?? "", Math.floor(now / 1000));
    if (!result.ok)
      throw new ApiError("invalid_credentials", result.reason === "expired" ? "Token has expired" : "Invalid token");
    const claims = userClaims.safeParse(claimsOf(result.payload, tokens.claims));
    if (!claims.success) throw new ApiError("invalid_credentials", "Token claims are invalid");
    const { sub, account_id, role, permissions = [], profile_id, name } = claims.data;
    // The account and the profile's permissions are read on every request: a deleted account's
    // tokens stop at once, and editing a profile changes its holders at once.
    const account = await tokenAccount(db, account_id, profile_id ?? null);
    if (!account) throw new ApiError("not_found", "Account not found");
    const fromProfile = account.permissions ?? [];
    const principal: Principal = {
      type: "user",
      id: sub,
      name: name ?? sub,
      accountId: account_id,
      permissions: role === "admin" ? ["*"] : [...new Set([...permissions, ...fromProfile])],
    };
    return { principal, role, permissions: [...new Set(permissions)], profileId: profile_id ?? null };
  }

  async function operator(token: string, accountId: string | null): Promise<Principal> {
    if (!secrets.adminToken || !(await constantTimeEqual(token, secrets.adminToken))) {
      throw new ApiError("invalid_credentials", "Invalid credentials");
    }
    return { type: "operator", id: "operator", name: "Operator", accountId, permissions: ["*"] };
  }

  /** An OAuth access token: checked, then counted against the hourly limit like a key. */
  async function admitToken(token: string, now: number): Promise<{ check: AccessCheck; hit: Hit | null }> {
    const check = await checkAccessToken(db, settings, token, now, waitUntil);
    if (!check.ok) return { check, hit: null };
    return { check, hit: await requests.hit(check.counterId, check.limits.rateLimitPerHour, now, waitUntil) };
  }

  async function identify(credential: string, now: number, opts: AdmitOptions): Promise<Admission> {
    if (looksLikeAccessToken(credential, settings)) {
      const { check, hit } = await admitToken(credential, now);
      if (!check.ok) {
        if (check.reason === "plan") throw new ApiError("plan_no_api_access", refusalOf.PLAN_BLOCKED.message);
        const message = check.reason === "expired" ? "Access token has expired" : "Invalid access token";
        throw new ApiError("invalid_credentials", message, undefined, {
          "WWW-Authenticate": 'Bearer error="invalid_token"',
        });
      }
      const headers = rateLimitHeaders(hit!, now);
      if (!hit!.allowed) {
        throw rateLimited(
          `Rate limit of ${hit!.limit} requests per hour reached for this app`,
          hit!.resetAt,
          now,
          headers,
        );
      }
      return { principal: check.principal, headers, webhooksVersion: check.webhooksVersion };
    }
    if (looksLikeApiKey(credential, settings)) {
      const admitted = await admitKey(credential, now);
      const headers = admitted.hit ? rateLimitHeaders(admitted.hit, now) : {};
      if (admitted.credits) headers["X-Credits-Remaining"] = String(admitted.credits.remaining);
      if (!admitted.ok) {
        if (admitted.code === "RATE_LIMITED") {
          throw rateLimited(
            `Rate limit of ${admitted.limit} requests per hour reached for this key`,
            admitted.hit!.resetAt,
            now,
            headers,
          );
        }
        if (admitted.code === "USAGE_EXCEEDED") {
          const next = admitted.credits?.nextRefillAt ?? null;
          if (next !== null) headers["Retry-After"] = String(Math.max(1, Math.ceil((next - now) / 1000)));
          throw new ApiError(
            "usage_exceeded",
            "This API key has no usage credits left",
            { remaining: admitted.credits?.remaining ?? 0, nextRefillAt: isoOrNull(next) },
            headers,
          );
        }
        const refusal = refusalOf[admitted.code];
        throw new ApiError(refusal.code, refusal.message);
      }
      const { key, permissions, webhooksVersion } = admitted.check;
      return {
        principal: { type: "api_key", id: key.id, name: key.name, accountId: key.accountId, permissions },
        headers,
        webhooksVersion,
      };
    }
    if (isJwtShaped(credential)) {
      return { principal: (await user(credential, now)).principal, headers: {}, webhooksVersion: null };
    }
    return { principal: await operator(credential, opts.accountId ?? null), headers: {}, webhooksVersion: null };
  }

  return {
    /** A user token (the OAuth login's): who, and what they hold; throws 401 like a request would. */
    userToken: (token: string) => user(token, platform.now()),

    /**
     * Admits a credential or throws the matching 401/403/429. An address with too many failed
     * attempts is refused before any lookup (the check is in memory; KV is touched only when an
     * attempt fails).
     */
    async admit(credential: string, opts: AdmitOptions): Promise<Admission> {
      const now = platform.now();
      const known = failures.knownTotal(opts.clientIp, now);
      if (known !== null && known >= settings.authFailureLimit) {
        const resetAt = failures.windowStart(now) + AUTH_FAILURE_WINDOW_SECONDS * 1000;
        throw rateLimited("Too many failed authentication attempts from this address", resetAt, now);
      }
      let admission: Admission;
      try {
        admission = await identify(credential, now, opts);
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) await failures.add(opts.clientIp, now, waitUntil);
        throw err;
      }
      const actAs = opts.actAs?.trim();
      if (!actAs) return admission;
      if (!hasPermission(admission.principal.permissions, "impersonate")) {
        throw new ApiError("insufficient_scope", "Missing permission: impersonate (needed for X-Act-As)", {
          missing: ["impersonate"],
        });
      }
      if (actAs.length > 200)
        throw new ApiError("validation_failed", "X-Act-As must be a user id of at most 200 characters");
      return { ...admission, principal: { ...admission.principal, onBehalfOf: { type: "user", id: actAs } } };
    },

    /**
     * The same checks as a key-authenticated request, answered as a verdict instead of an error,
     * and counted toward the key's hourly limit like a request. With `accountId` (a caller that is
     * not the operator), keys of other accounts are NOT_FOUND.
     */
    async verify(
      key: string,
      opts: { scopes?: string[]; accountId?: string | null; cost?: number } = {},
    ): Promise<Verdict> {
      const now = platform.now();
      if (looksLikeAccessToken(key, settings)) return verifyToken(key, now, opts);
      const admitted = await admitKey(key, now, {
        scopes: opts.scopes ?? [],
        accountId: opts.accountId,
        cost: opts.cost,
      });
      if (!admitted.ok && !admitted.key) return emptyVerdict(admitted.code);
      if (!admitted.ok && !admitted.check) {
        const k = admitted.key!;
        return { ...emptyVerdict(admitted.code), keyId: k.id, accountId: k.accountId, name: k.name };
      }
      const check = admitted.ok ? admitted.check : admitted.check!;
      const hit = admitted.hit!;
      return {
        valid: admitted.ok,
        code: admitted.ok ? "VALID" : admitted.code,
        keyId: check.key.id,
        accountId: check.key.accountId,
        name: check.key.name,
        scopes: check.permissions,
        ratelimit: { limit: admitted.limit!, remaining: hit.remaining, reset: Math.ceil(hit.resetAt / 1000) },
        credits: verdictCredits(check, admitted.credits, now),
        expiresAt: isoOrNull(check.key.expiresAt),
        metadata: check.key.metadata,
        oauth: null,
      };
    },
  };

  /** `verify` for an OAuth access token: the same checks as a request made with it. */
  async function verifyToken(token: string, now: number, opts: { scopes?: string[]; accountId?: string | null }) {
    const { check, hit } = await admitToken(token, now);
    if (!check.ok) return emptyVerdict(tokenRefusal[check.reason]);
    const { principal } = check;
    if (opts.accountId && principal.accountId !== opts.accountId) return emptyVerdict("NOT_FOUND");
    const code: VerifyCode = !hit!.allowed
      ? "RATE_LIMITED"
      : missingPermissions(principal.permissions, opts.scopes ?? []).length > 0
        ? "INSUFFICIENT_SCOPE"
        : "VALID";
    return {
      valid: code === "VALID",
      code,
      keyId: null,
      accountId: principal.accountId,
      name: principal.name,
      scopes: principal.permissions,
      ratelimit: { limit: hit!.limit, remaining: hit!.remaining, reset: Math.ceil(hit!.resetAt / 1000) },
      credits: null,
      expiresAt: isoOrNull(check.expiresAt),
      metadata: null,
      oauth: { clientId: principal.id, userId: principal.onBehalfOf?.id ?? null },
    } satisfies Verdict;
  }
}

/** A verdict's credits: what the spend left, or (refused before spending) what the key has. */
function verdictCredits(check: Extract<KeyCheck, { ok: true }>, credits: Credits | null | undefined, now: number) {
  const c =
    credits ??
    (check.key.creditsRemaining === null
      ? null
      : {
          remaining: effectiveRemaining(check.key, now) ?? 0,
          nextRefillAt: nextRefillAt(check.key, now),
        });
  return c ? { remaining: c.remaining, nextRefillAt: isoOrNull(c.nextRefillAt) } : null;
}

export type AuthService = ReturnType<typeof createAuthService>;

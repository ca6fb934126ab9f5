import { ApiError, refusalOf, type VerifyCode } from "../../lib/errors";
import { hasPermission, missingPermissions } from "../../lib/permissions";
import type { Principal } from "../../lib/principal";
import { isoOrNull } from "../../lib/schemas";
import type { Platform } from "../../platform";
import type { EdgeService } from "../edge/edge.service";
import type { EventsService } from "../events/events.service";
import { type AccessCheck, checkAccessToken } from "../oauth/access";
import type { OperatorKeysService } from "../operator-keys/operator-keys.service";
import {
  AUTH_FAILURE_WINDOW_SECONDS,
  authFailures,
  keyRequests,
  rateLimited,
  rateLimitHeaders,
} from "../ratelimit/limits";
import type { Hit } from "../ratelimit/sharded-counter";
import { identifyOperator, identifyUser, kindOf } from "./credentials";
import { admitKey, type KeyAdmission, type KeyAdmissionDeps, type KeyAdmissionOptions } from "./key-admission";
import { keyVerdict, tokenVerdict, type Verdict } from "./verdict";

export type { Verdict } from "./verdict";

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

/** An access token, checked and (if valid) counted against its hourly limit like a key. */
type TokenAdmission =
  | { ok: false; check: Extract<AccessCheck, { ok: false }> }
  | { ok: true; check: Extract<AccessCheck, { ok: true }>; hit: Hit };

export interface AuthDeps {
  events: () => EventsService;
  /** Operator keys: the operator's revocable credentials. */
  operatorKeys: () => OperatorKeysService;
  /** Where credential records are read: the edge tier. */
  edge: () => EdgeService;
}

/**
 * Authentication: the one path every credential takes — the HTTP middleware, `POST
 * /v1/keys/verify` and `KeyhookRpc.verify`. Its stages live beside it: `credentials.ts` (which kind,
 * users and the operator), `key-admission.ts` (a key through every check), `credit-spend.ts` and
 * `credit-alerts.ts` (usage credits), `verdict.ts` (what verify answers).
 */
export function createAuthService(platform: Platform, deps: AuthDeps) {
  const { db, settings, kv, secrets, waitUntil } = platform;
  const requests = keyRequests(kv, platform.log);
  const failures = authFailures(kv, platform.log);
  const keys: KeyAdmissionDeps = {
    db,
    settings,
    log: platform.log,
    waitUntil,
    hit: (id, limit, now) => requests.hit(id, limit, now, waitUntil),
    publish: (scope, input) => deps.events().publish(scope, input),
    records: (hash) => deps.edge().key(hash),
  };
  const users = { db, settings, jwtSecret: secrets.jwtSecret };

  async function admitToken(token: string, now: number): Promise<TokenAdmission> {
    const check = await checkAccessToken(db, settings, (hash) => deps.edge().token(hash), token, now, waitUntil);
    if (!check.ok) return { ok: false, check };
    return { ok: true, check, hit: await requests.hit(check.counterId, check.limits.rateLimitPerHour, now, waitUntil) };
  }

  /** A key's admission as a request's: its principal and headers, or the matching error. */
  function keyAnswer(admitted: KeyAdmission, now: number): Admission {
    const headers = admitted.stage === "lookup" ? {} : rateLimitHeaders(admitted.hit, now);
    const credits = admitted.stage === "lookup" ? null : admitted.credits;
    if (credits) headers["X-Credits-Remaining"] = String(credits.remaining);
    if (admitted.ok) {
      const { key, permissions, webhooksVersion } = admitted.check;
      return {
        principal: { type: "api_key", id: key.id, name: key.name, accountId: key.accountId, permissions },
        headers,
        webhooksVersion,
      };
    }
    if (admitted.stage === "counted" && admitted.code === "RATE_LIMITED") {
      const message = `Rate limit of ${admitted.limit} requests per hour reached for this key`;
      throw rateLimited(message, admitted.hit.resetAt, now, headers);
    }
    if (admitted.stage === "counted" && admitted.code === "USAGE_EXCEEDED") {
      const next = credits?.nextRefillAt ?? null;
      if (next !== null) headers["Retry-After"] = String(Math.max(1, Math.ceil((next - now) / 1000)));
      throw new ApiError(
        "usage_exceeded",
        "This API key has no usage credits left",
        { remaining: credits?.remaining ?? 0, nextRefillAt: isoOrNull(next) },
        headers,
      );
    }
    const refusal = refusalOf[admitted.code];
    throw new ApiError(refusal.code, refusal.message);
  }

  /** An access token's admission as a request's. */
  function tokenAnswer(admitted: TokenAdmission, now: number): Admission {
    if (!admitted.ok) {
      if (admitted.check.reason === "plan") throw new ApiError("plan_no_api_access", refusalOf.PLAN_BLOCKED.message);
      const message = admitted.check.reason === "expired" ? "Access token has expired" : "Invalid access token";
      throw new ApiError("invalid_credentials", message, undefined, {
        "WWW-Authenticate": 'Bearer error="invalid_token"',
      });
    }
    const { check, hit } = admitted;
    const headers = rateLimitHeaders(hit, now);
    if (!hit.allowed) {
      throw rateLimited(`Rate limit of ${hit.limit} requests per hour reached for this app`, hit.resetAt, now, headers);
    }
    return { principal: check.principal, headers, webhooksVersion: check.webhooksVersion };
  }

  async function identify(credential: string, now: number, opts: AdmitOptions): Promise<Admission> {
    switch (kindOf(credential, settings)) {
      case "access_token":
        return tokenAnswer(await admitToken(credential, now), now);
      case "api_key":
        return keyAnswer(await admitKey(keys, credential, now), now);
      case "user_token":
        return {
          principal: (await identifyUser(users, credential, now)).principal,
          headers: {},
          webhooksVersion: null,
        };
      case "operator_key":
        return {
          principal: await deps.operatorKeys().identify(credential, opts.accountId ?? null),
          headers: {},
          webhooksVersion: null,
        };
      case "operator":
        return {
          principal: await identifyOperator(secrets.adminToken, credential, opts.accountId ?? null),
          headers: {},
          webhooksVersion: null,
        };
    }
  }

  return {
    /** A user token (the OAuth login's): who, and what they hold; throws 401 like a request would. */
    userToken: (token: string) => identifyUser(users, token, platform.now()),

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
    async verify(key: string, opts: KeyAdmissionOptions = {}): Promise<Verdict> {
      const now = platform.now();
      if (kindOf(key, settings) === "access_token") {
        const admitted = await admitToken(key, now);
        if (admitted.ok && opts.accountId && admitted.check.principal.accountId !== opts.accountId) {
          return keyVerdict({ ok: false, stage: "lookup", code: "NOT_FOUND", key: null }, now);
        }
        return tokenVerdict(
          admitted,
          (check, hit): VerifyCode =>
            !hit.allowed
              ? "RATE_LIMITED"
              : missingPermissions(check.principal.permissions, opts.scopes ?? []).length > 0
                ? "INSUFFICIENT_SCOPE"
                : "VALID",
        );
      }
      const admitted = await admitKey(keys, key, now, {
        scopes: opts.scopes ?? [],
        accountId: opts.accountId,
        cost: opts.cost,
      });
      return keyVerdict(admitted, now);
    },

    /**
     * A key of an Unkey API (`/v2` `keys.verifyKey`), on the same hot path as Keyhook's own keys:
     * the account's keys of its APIs only, checked in Unkey's order — permissions (`permitted`),
     * then the key's rate limit if it has one, then credits. The admission, for `/v2` to shape.
     */
    verifyForApi: (key: string, opts: Pick<KeyAdmissionOptions, "accountId" | "cost" | "permitted" | "limited">) =>
      admitKey(keys, key, platform.now(), { ...opts, audience: "unkey" }),
  };
}

export type AuthService = ReturnType<typeof createAuthService>;

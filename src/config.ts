import { memo } from "./lib/memo";
import type { UserTokenSettings } from "./lib/user-token";

/** What a plan allows. Accounts may override `maxActiveKeys` and `rateLimitPerHour`. */
export interface PlanLimits {
  apiAccess: boolean;
  maxActiveKeys: number;
  rateLimitPerHour: number;
}

export const PLANS = {
  free: { apiAccess: false, maxActiveKeys: 5, rateLimitPerHour: 100 },
  pro: { apiAccess: true, maxActiveKeys: 5, rateLimitPerHour: 100 },
  enterprise: { apiAccess: true, maxActiveKeys: 50, rateLimitPerHour: 10_000 },
} as const satisfies Record<string, PlanLimits>;

export type PlanName = keyof typeof PLANS;
export const PLAN_NAMES = Object.keys(PLANS) as [PlanName, ...PlanName[]];

export function planLimits(
  plan: string,
  overrides: { maxActiveKeys: number | null; rateLimitPerHour: number | null },
): PlanLimits {
  const base: PlanLimits = PLANS[plan as PlanName] ?? PLANS.free;
  return {
    apiAccess: base.apiAccess,
    maxActiveKeys: overrides.maxActiveKeys ?? base.maxActiveKeys,
    rateLimitPerHour: overrides.rateLimitPerHour ?? base.rateLimitPerHour,
  };
}

/** Deployment settings read from the Worker's vars. */
export interface Settings {
  keyPrefix: string;
  keyEnv: "live" | "test";
  allowKeyInQuery: boolean;
  /** Failed authentications one client IP may make per 10 minutes before it gets 429. */
  authFailureLimit: number;
  /** Opt-in: seconds a found key stays in isolate memory (0 = every request reads D1). */
  keyCacheTtlSeconds: number;
  /** A D1 call that has not answered in this long is given up: 503 `service_unavailable`. */
  d1TimeoutMs: number;
  /** Days event content (entities, attempt bodies) is kept; the cron deletes older content. */
  retentionDays: number;
  webhooks: WebhookSettings;
  userTokens: UserTokenSettings;
  oauth: OAuthSettings;
}

/** The OAuth 2.1 authorization server (features/oauth). */
export interface OAuthSettings {
  /** The host application's login page; `/oauth/authorize` sends the browser there (null: no user flow). */
  loginUrl: string | null;
  /** RFC 7591 `POST /oauth/register` for public clients. */
  dynamicRegistration: boolean;
  /** The `issuer`; null = the origin the request came to. */
  issuer: string | null;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
}

export interface WebhookSettings {
  timeoutMs: number;
  /** Seconds to wait before each retry; its length is the number of retries. */
  retryDelays: number[];
  disableAfterHours: number;
  maxPerAccount: number;
  /** Host patterns refused as webhook targets (`*.workers.dev`, the deployment's own domains). */
  denyHosts: string[];
  /** Local development only: http://, any port, loopback and private addresses. */
  allowPrivateUrls: boolean;
}

const DEFAULT_RETRY_DELAYS = [5, 300, 1800, 7200, 18000, 36000, 36000];

function retryDelays(value: string | undefined): number[] {
  const delays = (value ?? "").split(",").map((d) => Number(d.trim()));
  return delays.length > 0 && delays.every((d) => Number.isInteger(d) && d >= 0) ? delays : DEFAULT_RETRY_DELAYS;
}

/** The key cache may delay a revoke by at most this much. */
export const MAX_KEY_CACHE_TTL_SECONDS = 300;

/** Settings are parsed once per `env` object (it is the same across an isolate's requests). */
const parsed = new WeakMap<Env, Settings>();

export const readSettings = (env: Env): Settings => memo(parsed, env, () => parseSettings(env));

function parseSettings(env: Env): Settings {
  return {
    keyPrefix: /^[a-z][a-z0-9]{0,15}$/.test(env.KEY_PREFIX ?? "") ? env.KEY_PREFIX : "kh",
    keyEnv: env.KEY_ENV === "test" ? "test" : "live",
    allowKeyInQuery: env.ALLOW_KEY_IN_QUERY === "true",
    authFailureLimit: positiveInt(env.AUTH_FAILURE_LIMIT, 30),
    keyCacheTtlSeconds: Math.min(positiveInt(env.KEY_CACHE_TTL_SECONDS, 0), MAX_KEY_CACHE_TTL_SECONDS),
    d1TimeoutMs: positiveInt(env.D1_TIMEOUT_MS, 10_000),
    retentionDays: positiveInt(env.WEBHOOK_RETENTION_DAYS, 30),
    webhooks: {
      timeoutMs: positiveInt(env.WEBHOOK_TIMEOUT_MS, 15_000),
      retryDelays: retryDelays(env.WEBHOOK_RETRY_DELAYS),
      disableAfterHours: positiveInt(env.WEBHOOK_DISABLE_AFTER_HOURS, 120),
      maxPerAccount: positiveInt(env.WEBHOOK_MAX_PER_ACCOUNT, 20),
      denyHosts: (env.WEBHOOK_DENY_HOSTS ?? "*.workers.dev")
        .split(",")
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
      allowPrivateUrls: env.WEBHOOK_ALLOW_PRIVATE_URLS === "true",
    },
    userTokens: {
      jwksUrl: /^https?:\/\//.test(env.JWT_JWKS_URL ?? "") ? env.JWT_JWKS_URL : null,
      issuer: env.JWT_ISSUER || null,
      audience: env.JWT_AUDIENCE || null,
      jwksCooldownSeconds: positiveInt(env.JWT_JWKS_COOLDOWN_SECONDS, 30),
      claims: {
        account: env.JWT_ACCOUNT_CLAIM || "account_id",
        role: env.JWT_ROLE_CLAIM || "role",
        permissions: env.JWT_PERMISSIONS_CLAIM || "permissions",
        profile: env.JWT_PROFILE_CLAIM || "profile_id",
      },
    },
    oauth: {
      loginUrl: /^https?:\/\//.test(env.OAUTH_LOGIN_URL ?? "") ? env.OAUTH_LOGIN_URL : null,
      dynamicRegistration: env.OAUTH_DYNAMIC_REGISTRATION === "true",
      issuer: /^https?:\/\/[^/]+$/.test(env.OAUTH_ISSUER ?? "") ? env.OAUTH_ISSUER : null,
      accessTokenTtlSeconds: Math.min(positiveInt(env.OAUTH_ACCESS_TOKEN_TTL_SECONDS, 3600), 86_400),
      refreshTokenTtlSeconds: positiveInt(env.OAUTH_REFRESH_TOKEN_TTL_DAYS, 30) * 86_400,
    },
  };
}

function positiveInt(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

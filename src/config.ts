import { z } from "zod";
import { memo } from "./lib/memo";
import type { UserTokenSettings } from "./lib/user-token";

/**
 * Every variable and secret Keyhook reads, in one zod schema: its kind, its default (as written in
 * wrangler.toml), what it does, and how it parses. An invalid value is an error that names the
 * variable and what is wrong — the Worker refuses to run on it (the first request answers 500 and
 * the log says why), never a silent default. An unset or empty variable takes its default.
 *
 * The settings tables in README.md and docs/deploy.md are generated from this list
 * (`npm run docs:settings`); `test/config.test.ts` fails when they drift.
 */

const text = z.string();
const flag = z.enum(["true", "false"], { error: 'must be "true" or "false"' }).transform((v) => v === "true");
const whole = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
const megabytes = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+(\.\d{1,3})?$/, "must be a number of MB (up to 3 decimals)")
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

/**
 * Queues accept `delaySeconds` up to 12 h on older limits pages (24 h on newer): no retry waits longer.
 * @see https://developers.cloudflare.com/queues/platform/limits/
 */
export const MAX_RETRY_DELAY_SECONDS = 12 * 3600;
/** `D1_TIMEOUT_MS` stays below the group commit's patience (deliveries/timings.ts asserts it). */
export const MAX_D1_TIMEOUT_MS = 20_000;

const retryDelays = z
  .string()
  .transform((v) => v.split(","))
  .pipe(
    z
      .array(
        z
          .string()
          .trim()
          .regex(/^\d+$/, "each delay must be a whole number of seconds (no empty entries)")
          .transform(Number)
          .pipe(z.number().max(MAX_RETRY_DELAY_SECONDS, `each delay must be at most ${MAX_RETRY_DELAY_SECONDS} s`)),
      )
      .min(1)
      .max(20, "at most 20 retries"),
  );

const hostList = z.string().transform((v) =>
  v
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean),
);

/** Comma-separated origins (`https://app.example.com`), each without a path; refused otherwise. */
const originList = z
  .string()
  .transform((v) =>
    v
      .split(",")
      .map((o) => o.trim())
      .filter(Boolean),
  )
  .pipe(z.array(text.regex(/^https?:\/\/[^/\s;,'"]+$/, "must list origins: http(s)://host[:port], no path")).max(20));

interface Variable<T> {
  kind: "var" | "secret";
  /** As written in wrangler.toml; undefined: no default (the setting is off, or required). */
  default?: string;
  /** A secret the Worker cannot work without. */
  required?: boolean;
  description: string;
  schema: z.ZodType<T, string>;
}

const v = <T>(variable: Variable<T>) => variable;

/** Every setting, in the order the docs list them. */
export const VARIABLES = {
  ADMIN_TOKEN: v({
    kind: "secret",
    description:
      "The operator's bootstrap token (`Authorization: Bearer …`), compared in constant time; everyday credentials are operator keys (`kh_op_…`, scoped and revocable) made with it. Unset: only operator keys are accepted.",
    schema: text,
  }),
  WEBHOOK_SECRET_KEY: v({
    kind: "secret",
    required: true,
    description:
      "Encrypts webhook signing secrets at rest (AES-256-GCM): base64 of 32 bytes, or any string (stretched with SHA-256). Changing it makes stored secrets unreadable. Required.",
    schema: text.min(16, "must be at least 16 characters"),
  }),
  JWT_SECRET: v({
    kind: "secret",
    description: "HS256 secret of user tokens issued by the host application's own login.",
    schema: text.min(16, "must be at least 16 characters"),
  }),
  JWT_JWKS_URL: v({
    kind: "var",
    default: "",
    description:
      "An identity provider's JWKS (Auth0, Clerk, WorkOS, Supabase, …): user tokens signed RS256, ES256 or EdDSA are verified against it, beside the HS256 ones.",
    schema: httpUrl,
  }),
  JWT_ISSUER: v({ kind: "var", default: "", description: "Checked on provider tokens when set.", schema: text }),
  JWT_AUDIENCE: v({ kind: "var", default: "", description: "Checked on provider tokens when set.", schema: text }),
  JWT_ACCOUNT_CLAIM: v({
    kind: "var",
    default: "account_id",
    description: "The claim that carries a user's account (providers name custom claims differently).",
    schema: text,
  }),
  JWT_ROLE_CLAIM: v({ kind: "var", default: "role", description: "The claim with `admin` or `member`.", schema: text }),
  JWT_PERMISSIONS_CLAIM: v({
    kind: "var",
    default: "permissions",
    description: "The claim with the user's permissions: an array, or a space-separated string like an OAuth `scope`.",
    schema: text,
  }),
  JWT_PROFILE_CLAIM: v({
    kind: "var",
    default: "profile_id",
    description: "The claim naming the user's permission profile.",
    schema: text,
  }),
  JWT_JWKS_COOLDOWN_SECONDS: v({
    kind: "var",
    default: "30",
    description: "A token naming a `kid` the cached key set lacks fetches the set again at most this often.",
    schema: whole(1, 3600),
  }),
  OAUTH_LOGIN_URL: v({
    kind: "var",
    default: "",
    description:
      "The host application's login page: `/oauth/authorize` sends a user there with `return_to`. Empty: only `client_credentials`.",
    schema: httpUrl,
  }),
  OAUTH_ISSUER: v({
    kind: "var",
    default: "",
    description:
      "The public origin (`https://keyhook.example.com`), when requests may arrive under another. Empty: the request's origin.",
    schema: text.regex(/^https?:\/\/[^/]+$/, "must be an origin: http(s)://host, no path"),
  }),
  OAUTH_DYNAMIC_REGISTRATION: v({
    kind: "var",
    default: "false",
    description: "`true` opens RFC 7591 `POST /oauth/register` to public PKCE clients (MCP clients connect this way).",
    schema: flag,
  }),
  OAUTH_ACCESS_TOKEN_TTL_SECONDS: v({
    kind: "var",
    default: "3600",
    description: "How long an access token lives (at most a day).",
    schema: whole(60, 86_400),
  }),
  OAUTH_REFRESH_TOKEN_TTL_DAYS: v({
    kind: "var",
    default: "30",
    description: "How long a refresh token lives; it rotates on every use.",
    schema: whole(1, 365),
  }),
  KEY_PREFIX: v({
    kind: "var",
    default: "kh",
    description: "First part of every key: `kh_live_…`. Lowercase letters and digits, starting with a letter.",
    schema: text.regex(/^[a-z][a-z0-9]{0,15}$/, "must be 1-16 lowercase letters and digits, starting with a letter"),
  }),
  KEY_ENV: v({
    kind: "var",
    default: "live",
    description: "`live` or `test`, the second part of new keys. Keys of either env keep working after a change.",
    schema: z.enum(["live", "test"], { error: 'must be "live" or "test"' }),
  }),
  ALLOW_KEY_IN_QUERY: v({
    kind: "var",
    default: "false",
    description: "`true` accepts `?api_key=` (it leaks into logs; off by default). Otherwise such a request is 401.",
    schema: flag,
  }),
  AUTH_FAILURE_LIMIT: v({
    kind: "var",
    default: "30",
    description: "Failed authentications one client IP may make per 10 minutes before every request from it is 429.",
    schema: whole(1, 100_000),
  }),
  EDGE_CACHE: v({
    kind: "var",
    default: "workers-cache",
    description:
      'Where warm credentials are answered from (docs/keys.md, "Verification at the edge"): `workers-cache` (deployed: Workers Cache in the caller\'s colo, purged by tag on every change), `local` (`wrangler dev` and the tests: a Durable Object stand-in per process, with the same contract), `off` (every check reads the D1 primary).',
    schema: z.enum(["workers-cache", "local", "off"], { error: 'must be "workers-cache", "local" or "off"' }),
  }),
  EDGE_RECORD_TTL_SECONDS: v({
    kind: "var",
    default: "60",
    description:
      "How long a cached credential record is trusted after it was read from the primary: the bound on a change's reach when its purge cannot be confirmed.",
    schema: whole(5, 600),
  }),
  EDGE_FILL_WINDOW_MS: v({
    kind: "var",
    default: "300",
    description:
      "A record whose primary read took longer than this is answered but not cached; every change's purge waits this long (plus 50 ms) after its commit. Must exceed the primary's usual read latency, or nothing is cached.",
    schema: whole(5, 2000),
  }),
  EDGE_PURGE_URL: v({
    kind: "var",
    default: "",
    description:
      "`EDGE_CACHE=local` only: a purge service that fans a purge out to every simulated colo (`npm run bench:geo`). Empty: a purge reaches this process's cache.",
    schema: httpUrl,
  }),
  D1_TIMEOUT_MS: v({
    kind: "var",
    default: "10000",
    description:
      "A D1 call that has not answered in this long is given up: the request gets 503 `service_unavailable` with `Retry-After`.",
    schema: whole(100, MAX_D1_TIMEOUT_MS),
  }),
  COUNT_OPS: v({
    kind: "var",
    default: "false",
    description:
      "`true` logs the D1 rows, KV and Queue operations of every invocation as one JSON line (`npm run bench`).",
    schema: flag,
  }),
  WEBHOOK_TIMEOUT_MS: v({
    kind: "var",
    default: "15000",
    description: "How long a receiver has to answer.",
    schema: whole(100, 60_000),
  }),
  WEBHOOK_RETRY_DELAYS: v({
    kind: "var",
    default: "5,300,1800,7200,18000,36000,36000",
    description: "Seconds before each retry (±10 % jitter), at most 12 h each; its length is the number of retries.",
    schema: retryDelays,
  }),
  WEBHOOK_DISABLE_AFTER_HOURS: v({
    kind: "var",
    default: "120",
    description: "A webhook with no success for this long is disabled on its next failure.",
    schema: whole(1, 24 * 365),
  }),
  WEBHOOK_MAX_PER_ACCOUNT: v({
    kind: "var",
    default: "20",
    description: "Webhooks per account.",
    schema: whole(1, 1000),
  }),
  WEBHOOK_DENY_HOSTS: v({
    kind: "var",
    default: "*.workers.dev",
    description: "Comma-separated hosts (or `*.suffix`) refused as webhook targets: add the deployment's own domains.",
    schema: hostList,
  }),
  WEBHOOK_RETENTION_DAYS: v({
    kind: "var",
    default: "30",
    description:
      "Days the webhook history is kept: the cron then deletes it from the HISTORY bucket (and, for what is still in D1, the entities and attempt bodies).",
    schema: whole(1, 3650),
  }),
  HISTORY_HOT_HOURS: v({
    kind: "var",
    default: "72",
    description:
      "Hours a final event stays in D1 before the cron moves it, with its deliveries and attempts, to the HISTORY bucket; 0 = as soon as every delivery of it is final. D1 then holds rate × window × bytes per event.",
    schema: whole(0, 8760),
  }),
  HISTORY_MAX_MB: v({
    kind: "var",
    default: "6000",
    description:
      "The most D1 the webhook history (events with their deliveries and attempts) may take, in MB (decimals allowed): when it would take more, the cron moves the oldest final events to the HISTORY bucket early, whatever `HISTORY_HOT_HOURS` says, and logs it. The default leaves 4 GB of a 10 GB database to keys, accounts and the audit log. A budget that cannot hold one minute's publishing is a configuration error, logged by the cron and shown by `GET /v1/deployment/storage`.",
    schema: megabytes(0.01, 10_000),
  }),
  PORTAL_FRAME_ANCESTORS: v({
    kind: "var",
    default: "",
    description:
      "Comma-separated origins that may frame the customer portal (`/portal`, CSP `frame-ancestors`); a theme's logo may come from them too. Empty: no page may frame it.",
    schema: originList,
  }),
  WEBHOOK_ALLOW_PRIVATE_URLS: v({
    kind: "var",
    default: "false",
    description:
      "Local development only (`npm run dev` sets it in `.dev.vars`): allows `http://`, any port, loopback and private addresses. Link-local and metadata addresses stay refused.",
    schema: flag,
  }),
} satisfies Record<string, Variable<unknown>>;

type Name = keyof typeof VARIABLES;
type Parsed = { [K in Name]: z.output<(typeof VARIABLES)[K]["schema"]> | null };

/** One or more settings are invalid: every problem, each naming its variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Keyhook's configuration is invalid: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

/**
 * Every variable parsed, or a `ConfigError` naming each bad one. Secrets are never echoed. An
 * unset or empty variable takes its default; one with no default is null (off), unless required.
 */
export function parseVariables(env: Record<string, unknown>): Parsed {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, variable] of Object.entries(VARIABLES) as [Name, Variable<unknown>][]) {
    const raw = env[name];
    const given = typeof raw === "string" && raw !== "" ? raw : (variable.default ?? "");
    if (given === "") {
      if (variable.required) problems.push(`${name} must be set (a secret: wrangler secret put ${name})`);
      out[name] = null;
      continue;
    }
    const parsed = variable.schema.safeParse(given);
    if (parsed.success) out[name] = parsed.data;
    else {
      const shown = variable.kind === "secret" ? "" : ` (got ${JSON.stringify(given.slice(0, 100))})`;
      problems.push(`${name} ${parsed.error.issues[0]?.message ?? "is invalid"}${shown}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as Parsed;
}

/** Deployment settings, as the services read them. */
export interface Settings {
  keyPrefix: string;
  keyEnv: "live" | "test";
  allowKeyInQuery: boolean;
  /** Failed authentications one client IP may make per 10 minutes before it gets 429. */
  authFailureLimit: number;
  /** The edge tier of credential records (features/edge). */
  edge: EdgeSettings;
  /** A D1 call that has not answered in this long is given up: 503 `service_unavailable`. */
  d1TimeoutMs: number;
  /** Days event content (entities, attempt bodies) is kept; the cron deletes older content. */
  retentionDays: number;
  /** Hours a final event stays in D1 before it moves to the HISTORY bucket. */
  historyHotHours: number;
  /** Bytes of D1 the history may take; the cron moves the oldest final events out early past it. */
  historyMaxBytes: number;
  countOps: boolean;
  webhooks: WebhookSettings;
  userTokens: UserTokenSettings;
  oauth: OAuthSettings;
  /** Origins that may frame the customer portal (features/portal); empty: none. */
  portalFrameAncestors: string[];
}

/** The OAuth 2.1 authorization server (features/oauth). */
interface OAuthSettings {
  /** The host application's login page; `/oauth/authorize` sends the browser there (null: no user flow). */
  loginUrl: string | null;
  /** RFC 7591 `POST /oauth/register` for public clients. */
  dynamicRegistration: boolean;
  /** The `issuer`; null = the origin the request came to. */
  issuer: string | null;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
}

interface EdgeSettings {
  mode: "workers-cache" | "local" | "off";
  ttlSeconds: number;
  fillWindowMs: number;
  purgeUrl: string | null;
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

/** A value that has a default in the schema: never null once parsed. */
function set<T>(value: T | null, name: Name): T {
  if (value === null) throw new ConfigError([`${name} has no value`]);
  return value;
}

/** Settings are parsed once per `env` object (it is the same across an isolate's requests). */
const parsed = new WeakMap<object, Settings>();

/** The settings of this Worker; throws `ConfigError` (naming every bad variable) if any is invalid. */
export const readSettings = (env: Env): Settings => memo(parsed, env, () => toSettings(parseVariables({ ...env })));

function toSettings(p: Parsed): Settings {
  return {
    keyPrefix: set(p.KEY_PREFIX, "KEY_PREFIX"),
    keyEnv: set(p.KEY_ENV, "KEY_ENV"),
    allowKeyInQuery: set(p.ALLOW_KEY_IN_QUERY, "ALLOW_KEY_IN_QUERY"),
    authFailureLimit: set(p.AUTH_FAILURE_LIMIT, "AUTH_FAILURE_LIMIT"),
    edge: {
      mode: set(p.EDGE_CACHE, "EDGE_CACHE"),
      ttlSeconds: set(p.EDGE_RECORD_TTL_SECONDS, "EDGE_RECORD_TTL_SECONDS"),
      fillWindowMs: set(p.EDGE_FILL_WINDOW_MS, "EDGE_FILL_WINDOW_MS"),
      purgeUrl: p.EDGE_PURGE_URL,
    },
    d1TimeoutMs: set(p.D1_TIMEOUT_MS, "D1_TIMEOUT_MS"),
    retentionDays: set(p.WEBHOOK_RETENTION_DAYS, "WEBHOOK_RETENTION_DAYS"),
    historyHotHours: set(p.HISTORY_HOT_HOURS, "HISTORY_HOT_HOURS"),
    historyMaxBytes: Math.round(set(p.HISTORY_MAX_MB, "HISTORY_MAX_MB") * 1_000_000),
    countOps: set(p.COUNT_OPS, "COUNT_OPS"),
    webhooks: {
      timeoutMs: set(p.WEBHOOK_TIMEOUT_MS, "WEBHOOK_TIMEOUT_MS"),
      retryDelays: set(p.WEBHOOK_RETRY_DELAYS, "WEBHOOK_RETRY_DELAYS"),
      disableAfterHours: set(p.WEBHOOK_DISABLE_AFTER_HOURS, "WEBHOOK_DISABLE_AFTER_HOURS"),
      maxPerAccount: set(p.WEBHOOK_MAX_PER_ACCOUNT, "WEBHOOK_MAX_PER_ACCOUNT"),
      denyHosts: set(p.WEBHOOK_DENY_HOSTS, "WEBHOOK_DENY_HOSTS"),
      allowPrivateUrls: set(p.WEBHOOK_ALLOW_PRIVATE_URLS, "WEBHOOK_ALLOW_PRIVATE_URLS"),
    },
    userTokens: {
      jwksUrl: p.JWT_JWKS_URL,
      issuer: p.JWT_ISSUER,
      audience: p.JWT_AUDIENCE,
      jwksCooldownSeconds: set(p.JWT_JWKS_COOLDOWN_SECONDS, "JWT_JWKS_COOLDOWN_SECONDS"),
      claims: {
        account: set(p.JWT_ACCOUNT_CLAIM, "JWT_ACCOUNT_CLAIM"),
        role: set(p.JWT_ROLE_CLAIM, "JWT_ROLE_CLAIM"),
        permissions: set(p.JWT_PERMISSIONS_CLAIM, "JWT_PERMISSIONS_CLAIM"),
        profile: set(p.JWT_PROFILE_CLAIM, "JWT_PROFILE_CLAIM"),
      },
    },
    oauth: {
      loginUrl: p.OAUTH_LOGIN_URL,
      dynamicRegistration: set(p.OAUTH_DYNAMIC_REGISTRATION, "OAUTH_DYNAMIC_REGISTRATION"),
      issuer: p.OAUTH_ISSUER,
      accessTokenTtlSeconds: set(p.OAUTH_ACCESS_TOKEN_TTL_SECONDS, "OAUTH_ACCESS_TOKEN_TTL_SECONDS"),
      refreshTokenTtlSeconds: set(p.OAUTH_REFRESH_TOKEN_TTL_DAYS, "OAUTH_REFRESH_TOKEN_TTL_DAYS") * 86_400,
    },
    portalFrameAncestors: p.PORTAL_FRAME_ANCESTORS ?? [],
  };
}

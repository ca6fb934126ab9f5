import { sql } from "drizzle-orm";
import { blob, customType, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { readStoredJson } from "../lib/json-depth";
import type { Actor } from "../lib/principal";

/**
 * JSON columns are `json<T>()("name")`: TEXT that Drizzle serializes and parses, so no code reads
 * one with a hand cast; parsed by `readStoredJson`, so a document deeper than Keyhook's JSON limit
 * (written before the limit) is never walked. The pipeline's own SQL (deliveries/pipeline.repo.ts)
 * reads and writes the same text, through `jsonColumn`.
 */
const json = <T>() =>
  customType<{ data: T; driverData: string }>({
    dataType: () => "text",
    toDriver: (value) => JSON.stringify(value),
    fromDriver: (value) => readStoredJson(value) as T,
  });

/**
 * A webhook's filter condition as stored: the API validates it (`features/webhooks/filter.ts`,
 * whose parsed type must fit this one), the column keeps it as JSON.
 */
export interface StoredFilterCondition {
  field: string;
  op: "eq" | "ne" | "in" | "nin" | "gt" | "gte" | "lt" | "lte" | "exists";
  value?: unknown;
  order?: (string | number)[];
}

/** Times are unix milliseconds; ids are time-ordered (`acc_…`, `key_…`), so `ORDER BY id` is creation order. */
export const accounts = sqliteTable(
  "accounts",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    /** The host application's own id for this customer (unique); cleared when the account is deleted. */
    externalId: text("external_id"),
    plan: text("plan").notNull(),
    /** Per-account overrides of the plan's limits; null = the plan's value. */
    maxActiveKeys: integer("max_active_keys"),
    rateLimitPerHour: integer("rate_limit_per_hour"),
    /**
     * Bumped in the same batch as every change to the account's webhooks. The hot-path key lookup
     * reads it for free, so a publish knows whether this isolate's copy of the webhooks is current.
     */
    webhooksVersion: integer("webhooks_version").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /**
     * Set by `DELETE /v1/accounts/:id`: from that write on, the account is not found and none of its
     * keys or tokens is accepted. The row is the purge's work item: it goes last, with nothing left.
     */
    deletedAt: integer("deleted_at"),
  },
  (t) => [uniqueIndex("accounts_external_id_idx").on(t.externalId).where(sql`external_id IS NOT NULL`)],
);

/** A named, reusable set of permissions; holders get its current permissions on every request. */
export const permissionProfiles = sqliteTable(
  "permission_profiles",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    name: text("name").notNull(),
    permissions: json<string[]>()("permissions").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("permission_profiles_account_idx").on(t.accountId, t.id)],
);

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    name: text("name").notNull(),
    /** Hex SHA-256 of the full key: the only stored form of the secret. */
    hash: text("hash").notNull(),
    /** The secret replaced by the last rotation, accepted until `previousHashExpiresAt`. */
    previousHash: text("previous_hash"),
    previousHashExpiresAt: integer("previous_hash_expires_at"),
    prefix: text("prefix").notNull(),
    last4: text("last4").notNull(),
    /** Its own permissions; null = neither scopes nor a profile (legacy full access), [] = none. */
    scopes: json<string[]>()("scopes"),
    /** Its permissions are added to `scopes`; revoked keys keep pointing at a deleted profile. */
    profileId: text("profile_id").references(() => permissionProfiles.id, { onDelete: "set null" }),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    rateLimitPerHour: integer("rate_limit_per_hour"),
    metadata: json<Record<string, unknown>>()("metadata").notNull().default({}),
    /** The principal that created the key. */
    createdBy: json<Actor>()("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
    /** When `api_key.expiring` was emitted for the current expiry (cleared when the expiry changes). */
    expiringNotifiedAt: integer("expiring_notified_at"),
    /**
     * Usage credits (features/keys/credits.ts): what is left to spend, null = unlimited. Spent by
     * one atomic statement per request; refilled lazily by that statement at each boundary.
     */
    creditsRemaining: integer("credits_remaining"),
    /** "daily" | "monthly"; null = no refill. */
    creditsRefillInterval: text("credits_refill_interval"),
    creditsRefillAmount: integer("credits_refill_amount"),
    /** Monthly refills: the day of the month (1–31; the last day in shorter months). */
    creditsRefillDay: integer("credits_refill_day"),
    /** The boundary (or the time credits were set) the remaining count counts from. */
    creditsRefilledAt: integer("credits_refilled_at"),
    /** `api_key.credits_low` goes out when a spend crosses this; null = 10 % of the allowance. */
    creditsLowThreshold: integer("credits_low_threshold"),
    /**
     * The Unkey API (`keyspaces`, features/unkey) the key belongs to: such a key is a customer's key
     * for the host's own API — it only verifies, never authenticates to Keyhook. Null: a Keyhook key.
     */
    keyspaceId: text("keyspace_id"),
    /** Unkey's identity of the key (its `externalId`), for keys of an Unkey API. */
    externalId: text("external_id"),
    /** Unkey's named rate limits of the key (`NamedLimiter`, any window); null: none. */
    ratelimits: json<NamedRateLimit[]>()("ratelimits"),
    /**
     * Unkey's roles of the key, by id (`key_roles`; a role deleted and made again under its name is
     * another role); their names and permissions are read with the key. Null: none.
     */
    roles: json<string[]>()("roles"),
  },
  (t) => [
    uniqueIndex("api_keys_hash_idx").on(t.hash),
    index("api_keys_previous_hash_idx").on(t.previousHash).where(sql`previous_hash IS NOT NULL`),
    index("api_keys_account_idx").on(t.accountId, t.id),
    index("api_keys_external_id_idx").on(t.accountId, t.externalId).where(sql`external_id IS NOT NULL`),
    index("api_keys_profile_idx").on(t.profileId),
  ],
);

/**
 * Unkey's APIs (features/unkey): key spaces inside an account, addressed by `apiId`. Deleting one
 * marks it; its keys are refused (`NOT_FOUND`) from then on.
 */
export const keyspaces = sqliteTable(
  "keyspaces",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    name: text("name").notNull(),
    createdAt: integer("created_at").notNull(),
    deletedAt: integer("deleted_at"),
  },
  (t) => [index("keyspaces_account_idx").on(t.accountId, t.id)],
);
export type KeyspaceRow = typeof keyspaces.$inferSelect;

/**
 * Unkey's identities (features/unkey): an account's customer, by its `externalId`, with metadata
 * and named rate limits its keys share (counted per identity). Keys point to one by `externalId`.
 */
export const identities = sqliteTable(
  "identities",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    externalId: text("external_id").notNull(),
    meta: json<Record<string, unknown>>()("meta"),
    ratelimits: json<NamedRateLimit[]>()("ratelimits"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("identities_external_id_idx").on(t.accountId, t.externalId)],
);
export type IdentityRow = typeof identities.$inferSelect;

/**
 * Unkey's permissions (features/unkey): the account's catalog of the slugs its keys and roles
 * hold, matched exactly. Keys and roles keep slugs; giving one an unknown slug adds it here.
 */
export const keyPermissions = sqliteTable(
  "key_permissions",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    name: text("name").notNull(),
    slug: text("slug").notNull(),
    description: text("description"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("key_permissions_slug_idx").on(t.accountId, t.slug)],
);
export type KeyPermissionRow = typeof keyPermissions.$inferSelect;

/** Unkey's roles (features/unkey): a named set of permission slugs; a key holds roles by name, live. */
export const keyRoles = sqliteTable(
  "key_roles",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    name: text("name").notNull(),
    description: text("description"),
    permissions: json<string[]>()("permissions").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("key_roles_name_idx").on(t.accountId, t.name)],
);
export type KeyRoleRow = typeof keyRoles.$inferSelect;

/**
 * Unkey's rate limit overrides (`ratelimit.setOverride`): another limit and window for one
 * identifier of a namespace. The record here lists them; the identifier's `NamedLimiter` holds a
 * copy it applies.
 */
export const ratelimitOverrides = sqliteTable(
  "ratelimit_overrides",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    namespace: text("namespace").notNull(),
    identifier: text("identifier").notNull(),
    limit: integer("limit").notNull(),
    duration: integer("duration").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("ratelimit_overrides_identifier_idx").on(t.accountId, t.namespace, t.identifier)],
);
export type RatelimitOverrideRow = typeof ratelimitOverrides.$inferSelect;

/** A key's named rate limit (Unkey's `ratelimits`): `limit` uses per `duration` ms; `autoApply`: on every verify. */
export interface NamedRateLimit {
  name: string;
  limit: number;
  duration: number;
  autoApply: boolean;
}

/** Every change, written in the same D1 batch as the change itself. Never holds a secret. */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id").notNull(),
    actorType: text("actor_type").notNull(),
    actorId: text("actor_id").notNull(),
    actorName: text("actor_name").notNull(),
    /** The user an impersonating key acted as. */
    onBehalfOf: json<{ type: "user"; id: string }>()("on_behalf_of"),
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id").notNull(),
    targetName: text("target_name"),
    /** `{field: {before, after}}`. */
    changes: json<Record<string, { before: unknown; after: unknown }>>()("changes"),
    ip: text("ip"),
    userAgent: text("user_agent"),
    requestId: text("request_id"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    index("audit_log_account_idx").on(t.accountId, t.id),
    index("audit_log_target_idx").on(t.accountId, t.targetId),
    index("audit_log_actor_idx").on(t.accountId, t.actorId),
  ],
);

export type AccountRow = typeof accounts.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type PermissionProfileRow = typeof permissionProfiles.$inferSelect;
export type AuditRow = typeof auditLog.$inferSelect;

/** A subscription. The signing secret is stored AES-256-GCM encrypted (`iv.ciphertext`, base64). */
export const webhooks = sqliteTable(
  "webhooks",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    url: text("url").notNull(),
    /** Event types, or ["*"]. */
    events: json<string[]>()("events").notNull(),
    /** `{field, op, value, order?}` conditions, all of which must hold. */
    filter: json<StoredFilterCondition[]>()("filter"),
    description: text("description"),
    status: text("status").notNull(),
    disabledReason: text("disabled_reason"),
    secret: text("secret").notNull(),
    /** `v1` (HMAC, the secret is `whsec_…`) or `v1a` (Ed25519, the secret is a `whsk_…` signing key). */
    signatureScheme: text("signature_scheme").notNull().default("v1"),
    previousSecret: text("previous_secret"),
    previousSecretExpiresAt: integer("previous_secret_expires_at"),
    /** Custom request headers, `{name: value}` as JSON, sealed like the secret (AES-GCM). */
    headers: text("headers"),
    /** At most this many deliveries a second to this endpoint (null: unpaced). */
    throttle: integer("throttle"),
    /** This endpoint's attempt timeout, below the deployment's `WEBHOOK_TIMEOUT_MS` (null: that one). */
    timeoutMs: integer("timeout_ms"),
    /**
     * What a delivery's body is: `envelope` (`{id, event, accountId, occurredAt, entity}`) or `raw`
     * (the entity alone, as Svix sends a message's payload).
     */
    deliveryFormat: text("delivery_format").notNull().default("envelope"),
    /** The host application's own name for this endpoint (Svix's `uid`): unique in its account. */
    uid: text("uid"),
    /**
     * Channels (Svix's): a webhook with channels receives only events published to at least one
     * of them; one without receives every event its types and filter match.
     */
    channels: json<string[]>()("channels"),
    /** The host application's own string pairs (Svix's `metadata`), kept and shown, never read. */
    metadata: json<Record<string, string>>()("metadata"),
    /** First failure since the last success: the auto-disable clock. */
    failingSince: integer("failing_since"),
    /**
     * The latest success and attempt, written with the outcomes only when the health changes or
     * what is kept is a minute old (`webhookHealth` in deliveries/pipeline.repo.ts): at most a row
     * per webhook a minute, so a delivery writes no webhook row of its own.
     */
    lastSuccessAt: integer("last_success_at"),
    lastAttemptAt: integer("last_attempt_at"),
    lastAttemptStatus: integer("last_attempt_status"),
    lastAttemptSucceeded: integer("last_attempt_succeeded", { mode: "boolean" }),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("webhooks_account_idx").on(t.accountId, t.id),
    uniqueIndex("webhooks_uid_idx").on(t.accountId, t.uid).where(sql`uid IS NOT NULL`),
  ],
);

/** Event types an account registered or published (Keyhook's own are built in). */
export const eventTypes = sqliteTable(
  "event_types",
  {
    accountId: text("account_id").notNull(),
    name: text("name").notNull(),
    description: text("description"),
    /** The first of `examples` (the column from before the catalog had several). */
    example: json<unknown>()("example"),
    /** A JSON Schema (draft 2020-12) of the entity; checked on publish only when `validate`. */
    schema: json<Record<string, unknown> | boolean>()("schema"),
    examples: json<Record<string, unknown>[]>()("examples"),
    groupName: text("group_name"),
    deprecated: integer("deprecated", { mode: "boolean" }).notNull().default(false),
    /** Hidden from the catalog (and the portal) unless asked for; publishing it still works. */
    archived: integer("archived", { mode: "boolean" }).notNull().default(false),
    validate: integer("validate", { mode: "boolean" }).notNull().default(false),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at"),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.name] })],
);

/**
 * An event with its deliveries and their attempts, in one row (migration 0015): a delivered webhook
 * writes no row of its own. A rowid table: a row of a kilobyte or more would spill into overflow
 * pages in a `WITHOUT ROWID` table's index B-tree; its rowid places it (final rows after the
 * others: `deliveries/delivery-sql.ts`, `FINAL_FROM`). The pipeline reads and writes the JSON columns
 * with its own SQL; `features/history/stored-event.ts` is their format.
 */
export const events = sqliteTable(
  "events",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id").notNull(),
    type: text("type").notNull(),
    /**
     * The entity's JSON text as published: a delivery's body embeds it byte for byte. Null once
     * the event is final and packed (`packed` holds it).
     */
    entity: text("entity"),
    /** Kept 24 h, then cleared by the cron. */
    idempotencyKey: text("idempotency_key"),
    createdAt: integer("created_at").notNull(),
    /**
     * When the entity was deleted (`WEBHOOK_RETENTION_DAYS`, or `DELETE /v1/events/:id/content`):
     * the row stays for the history, its entity is `{}` and its attempts' bodies are gone.
     */
    contentDeletedAt: integer("content_deleted_at"),
    /** Its deliveries' states, a JSON array: a delivery's index in it is part of its id. */
    deliveries: text("deliveries").notNull().default("[]"),
    /** Its attempts, a JSON array, while the event is not packed. */
    attempts: text("attempts"),
    /** A final event's entity and attempts, gzipped JSON. */
    packed: blob("packed"),
    /** When its earliest pending delivery is due (the sweeper's index); null: none pending. */
    dueAt: integer("due_at"),
    /** How many times the row changed: a read-then-write is guarded by it. */
    rev: integer("rev").notNull().default(0),
    /** Svix's channels it was published to (it reached only webhooks naming one, or none); null: none. */
    channels: json<string[]>()("channels"),
    /** Svix's tags: labels to find it by; null: none. */
    tags: json<string[]>()("tags"),
  },
  (t) => [
    // Partial: an event with nothing pending, or without an idempotency key, writes no index entry.
    index("events_due_idx").on(t.dueAt).where(sql`due_at IS NOT NULL`),
    uniqueIndex("events_idempotency_idx").on(t.accountId, t.idempotencyKey).where(sql`idempotency_key IS NOT NULL`),
  ],
);

/** The event of a delivery whose id was made before ids named their event (migration 0015 only). */
export const deliveryAliases = sqliteTable("delivery_aliases", {
  id: text("id").primaryKey(),
  eventId: text("event_id").notNull(),
});

/**
 * The webhook history's index (features/history): one row per object in the `HISTORY` R2 bucket,
 * each holding one account's events (with their deliveries and attempts) of one hour, moved out of
 * D1 once final and past `HISTORY_HOT_HOURS`. The event log finds an account's objects here, newest
 * first, and retention and deletion find what to remove. A row is written in the same D1 batch that
 * deletes the events it holds; an object without a row is never read (see archiver.ts).
 */
export const historyObjects = sqliteTable(
  "history_objects",
  {
    accountId: text("account_id").notNull(),
    /** The R2 key: `history/<account>/<first event id>.<written at, base 36>.<random>.ndjson.gz`. */
    key: text("key").notNull(),
    firstEventId: text("first_event_id").notNull(),
    lastEventId: text("last_event_id").notNull(),
    /** The newest attempt it holds (a webhook's attempts are read newest first across objects). */
    lastAttemptId: text("last_attempt_id"),
    /** The webhooks its deliveries went to (JSON array): a webhook's history reads only its objects. */
    webhookIds: json<string[]>()("webhook_ids").notNull(),
    events: integer("events").notNull(),
    bytes: integer("bytes").notNull(),
    archivedAt: integer("archived_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.key] }),
    index("history_objects_last_idx").on(t.accountId, t.lastEventId),
    index("history_objects_attempt_idx").on(t.accountId, t.lastAttemptId),
    /** Retention: the objects whose newest event is past it, across accounts, without a scan. */
    index("history_objects_expiry_idx").on(t.lastEventId),
  ],
);

export type HistoryObjectRow = typeof historyObjects.$inferSelect;

/**
 * Event types of the whole deployment, as Svix's API keeps them (an organisation's catalog, usable
 * by every application: `features/svix`): names as Svix allows them, schemas by version.
 */
export const deploymentEventTypes = sqliteTable("deployment_event_types", {
  name: text("name").primaryKey(),
  description: text("description").notNull(),
  /** `{"1": <JSON Schema>}`: Svix's schemas by version. */
  schemas: json<Record<string, unknown>>()("schemas"),
  groupName: text("group_name"),
  archived: integer("archived", { mode: "boolean" }).notNull().default(false),
  deprecated: integer("deprecated", { mode: "boolean" }).notNull().default(false),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export type DeploymentEventTypeRow = typeof deploymentEventTypes.$inferSelect;

/**
 * Answers to POSTs of Svix's API kept by their `idempotency-key` (24 h): a client's retry gets the
 * first answer again and creates nothing twice (`features/svix`). `status` null: still running.
 * Messages keep theirs in the event's own idempotency key instead (no row of this table).
 */
export const apiIdempotency = sqliteTable("api_idempotency", {
  key: text("key").primaryKey(),
  /** The request it answered (method and path): the same key on another request is refused. */
  request: text("request").notNull(),
  status: integer("status"),
  body: text("body"),
  createdAt: integer("created_at").notNull(),
});

/**
 * Operator keys (features/operator-keys): deployment-level credentials beside `ADMIN_TOKEN` — what
 * a Svix client's token is. Stored as SHA-256; a revoked key keeps its row (the log names it).
 */
export const operatorKeys = sqliteTable(
  "operator_keys",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    keyHash: text("key_hash").notNull(),
    /** Shown in lists: `kh_op_Ab3x`. */
    prefix: text("prefix").notNull(),
    last4: text("last4").notNull(),
    /** `*`, `operator:read`, `operator:write`, and account permissions used with `X-Account-Id`. */
    scopes: json<string[]>()("scopes").notNull(),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
    lastUsedAt: integer("last_used_at"),
    createdBy: json<Actor>()("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("operator_keys_hash_idx").on(t.keyHash)],
);
export type OperatorKeyRow = typeof operatorKeys.$inferSelect;

/** Where a cron task stopped last time (e.g. the retention's last event id): small, read once a run. */
export const cronState = sqliteTable("cron_state", {
  name: text("name").primaryKey(),
  value: text("value").notNull(),
});

export type WebhookRow = typeof webhooks.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type EventTypeRow = typeof eventTypes.$inferSelect;

/**
 * Verification outcomes per key and hour (features/analytics): counted in isolate memory and added
 * here in `waitUntil`, never on the request path. `key_id` "" = a key not found in that account.
 */
export const verificationCounts = sqliteTable(
  "verification_counts",
  {
    accountId: text("account_id").notNull(),
    hour: integer("hour").notNull(),
    keyId: text("key_id").notNull(),
    outcome: text("outcome").notNull(),
    count: integer("count").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.hour, t.keyId, t.outcome] }),
    index("verification_counts_key_idx").on(t.keyId, t.hour),
  ],
);

/**
 * OAuth clients (features/oauth): an account's integrations, or (account null) the deployment's
 * own public clients and those registered dynamically (RFC 7591). The secret is stored as SHA-256.
 */
export const oauthClients = sqliteTable(
  "oauth_clients",
  {
    /** The `client_id`. */
    id: text("id").primaryKey(),
    accountId: text("account_id").references(() => accounts.id),
    name: text("name").notNull(),
    type: text("type", { enum: ["confidential", "public"] }).notNull(),
    secretHash: text("secret_hash"),
    secretLast4: text("secret_last4"),
    redirectUris: json<string[]>()("redirect_uris").notNull(),
    /** What it may ask for (permission patterns, wildcards allowed). */
    scopes: json<string[]>()("scopes").notNull(),
    /** Registered through `POST /oauth/register`. */
    dynamic: integer("dynamic", { mode: "boolean" }).notNull().default(false),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    createdBy: json<Actor>()("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("oauth_clients_account_idx").on(t.accountId, t.id)],
);

/**
 * A user's consent to a client: the scopes granted, and what the user held when they consented
 * (kept current by a new consent or `PUT /v1/oauth-users/:id`). Tokens act within both.
 */
export const oauthGrants = sqliteTable(
  "oauth_grants",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    clientId: text("client_id").notNull(),
    userId: text("user_id").notNull(),
    userName: text("user_name").notNull(),
    userRole: text("user_role", { enum: ["admin", "member"] }).notNull(),
    userPermissions: json<string[]>()("user_permissions").notNull(),
    userProfileId: text("user_profile_id"),
    scopes: json<string[]>()("scopes").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    lastUsedAt: integer("last_used_at"),
  },
  (t) => [
    uniqueIndex("oauth_grants_user_client_idx").on(t.accountId, t.userId, t.clientId),
    index("oauth_grants_client_idx").on(t.clientId),
  ],
);

/**
 * Authorization codes, access tokens and refresh tokens, by SHA-256 only. A revoked token is
 * deleted; a used code or refresh token keeps its row (`usedAt`) so a second use is recognised.
 */
export const oauthTokens = sqliteTable(
  "oauth_tokens",
  {
    id: text("id").primaryKey(),
    hash: text("hash").notNull(),
    kind: text("kind", { enum: ["code", "access", "refresh"] }).notNull(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    clientId: text("client_id").notNull(),
    /** Null for `client_credentials` tokens (the client acts as itself). */
    grantId: text("grant_id"),
    scopes: json<string[]>()("scopes").notNull(),
    expiresAt: integer("expires_at").notNull(),
    usedAt: integer("used_at"),
    /** Codes: what the token request must repeat. */
    redirectUri: text("redirect_uri"),
    codeChallenge: text("code_challenge"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("oauth_tokens_hash_idx").on(t.hash),
    index("oauth_tokens_grant_idx").on(t.grantId),
    index("oauth_tokens_client_idx").on(t.clientId),
    index("oauth_tokens_expiry_idx").on(t.expiresAt),
  ],
);

/**
 * Consent requests already decided (Allow or Deny), by their nonce: each is single-use. Rows go
 * once the request has expired (it could not be posted after that anyway).
 */
export const oauthConsents = sqliteTable(
  "oauth_consents",
  {
    nonce: text("nonce").primaryKey(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("oauth_consents_expiry_idx").on(t.expiresAt)],
);

/** A customer portal's look, as `POST /v1/portal-sessions` was given it. */
export interface PortalTheme {
  name?: string;
  logoUrl?: string;
  accent?: string;
}

/**
 * Customer portal sessions (features/portal). The link is single-use: opening it stores the
 * session's cookie hash and `openedAt` in one conditional write, so a second open finds nothing.
 * Both secrets are stored as SHA-256 only. Rows go after they expire (the cron).
 */
export const portalSessions = sqliteTable(
  "portal_sessions",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    /** `webhooks:read`, `webhooks:write`, `events:replay`. */
    capabilities: json<string[]>()("capabilities").notNull(),
    theme: json<PortalTheme>()("theme").notNull(),
    returnUrl: text("return_url"),
    linkHash: text("link_hash").notNull(),
    linkExpiresAt: integer("link_expires_at").notNull(),
    openedAt: integer("opened_at"),
    sessionHash: text("session_hash"),
    expiresAt: integer("expires_at").notNull(),
    revokedAt: integer("revoked_at"),
    createdBy: json<Actor>()("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("portal_sessions_link_idx").on(t.linkHash),
    uniqueIndex("portal_sessions_session_idx").on(t.sessionHash).where(sql`session_hash IS NOT NULL`),
    index("portal_sessions_account_idx").on(t.accountId, t.id),
    index("portal_sessions_expiry_idx").on(t.expiresAt),
  ],
);

export type PortalSessionRow = typeof portalSessions.$inferSelect;
export type OAuthClientRow = typeof oauthClients.$inferSelect;
export type OAuthGrantRow = typeof oauthGrants.$inferSelect;
export type OAuthTokenRow = typeof oauthTokens.$inferSelect;

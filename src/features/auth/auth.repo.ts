import { and, eq, isNull, lt, or } from "drizzle-orm";
import { type Db, jsonColumn } from "../../db/client";
import { type ApiKeyRow, accounts, apiKeys, type NamedRateLimit, permissionProfiles } from "../../db/schema";
import { batched } from "../../lib/batched";
import { memo } from "../../lib/memo";

/** The key columns the hot path reads (not the prefix, the audit fields or the timestamps it never uses). */
const authKeyColumns = {
  id: apiKeys.id,
  accountId: apiKeys.accountId,
  name: apiKeys.name,
  hash: apiKeys.hash,
  previousHashExpiresAt: apiKeys.previousHashExpiresAt,
  scopes: apiKeys.scopes,
  profileId: apiKeys.profileId,
  enabled: apiKeys.enabled,
  rateLimitPerHour: apiKeys.rateLimitPerHour,
  metadata: apiKeys.metadata,
  lastUsedAt: apiKeys.lastUsedAt,
  expiresAt: apiKeys.expiresAt,
  revokedAt: apiKeys.revokedAt,
  creditsRemaining: apiKeys.creditsRemaining,
  creditsRefillInterval: apiKeys.creditsRefillInterval,
  creditsRefillAmount: apiKeys.creditsRefillAmount,
  creditsRefillDay: apiKeys.creditsRefillDay,
  creditsRefilledAt: apiKeys.creditsRefilledAt,
  creditsLowThreshold: apiKeys.creditsLowThreshold,
  keyspaceId: apiKeys.keyspaceId,
  externalId: apiKeys.externalId,
  ratelimits: apiKeys.ratelimits,
  roles: apiKeys.roles,
};

/** A key's Unkey identity as the hot path reads it with the key (its rate limits are shared). */
export interface KeyIdentity {
  id: string;
  externalId: string;
  meta: Record<string, unknown> | null;
  ratelimits: NamedRateLimit[] | null;
}

/**
 * A key as the hot path sees it; a key of an Unkey API also with its roles' names and permissions
 * (as they are now) and its identity, read in the same statement.
 */
export type AuthKey = Pick<ApiKeyRow, keyof typeof authKeyColumns> & {
  roleNames: string[] | null;
  rolePermissions: string[] | null;
  identity: KeyIdentity | null;
};

/**
 * The permissions of a key's roles and its identity, as subqueries of the key's row (`k`): nothing
 * is read for a key with neither (Keyhook's own keys).
 */
const unkeyColumns = (k: string) => `CASE WHEN ${k}.roles IS NULL THEN NULL ELSE
    (SELECT json_group_array(r.name) FROM key_roles r
      WHERE r.account_id = ${k}.account_id AND r.id IN (SELECT value FROM json_each(${k}.roles))) END AS role_names,
  CASE WHEN ${k}.roles IS NULL THEN NULL ELSE
    (SELECT json_group_array(DISTINCT j.value) FROM key_roles r, json_each(r.permissions) j
      WHERE r.account_id = ${k}.account_id AND r.id IN (SELECT value FROM json_each(${k}.roles))) END AS role_permissions,
  CASE WHEN ${k}.external_id IS NULL THEN NULL ELSE
    (SELECT json_object('id', i.id, 'externalId', i.external_id, 'meta', json(i.meta), 'ratelimits', json(i.ratelimits))
      FROM identities i WHERE i.account_id = ${k}.account_id AND i.external_id = ${k}.external_id) END AS identity`;

/** A key as the hot path sees it, with its account's limits and its profile's permissions. */
export interface FoundKey {
  key: AuthKey;
  account: { plan: string; maxActiveKeys: number | null; rateLimitPerHour: number | null; webhooksVersion: number };
  profilePermissions: string[] | null;
}

/**
 * The hot-path read: the keys (current or rotated-out secret) behind `n` distinct hashes, with their
 * accounts' limits and their profiles' permissions — one indexed D1 query for them all. The hashes
 * are bound parameters `?1…?n` (each used twice; D1 binds at most 100), not a `json_each` list,
 * which SQLite would scan once per use and D1 would bill as rows read. The edge tier's fill: it runs
 * on a miss, on the primary, and what it reads is cached until a change purges it.
 */
function findKeysSql(n: number) {
  const list = Array.from({ length: n }, (_, i) => `?${i + 1}`).join(", ");
  return `SELECT k.id, k.account_id, k.name, k.hash, k.previous_hash, k.previous_hash_expires_at, k.scopes,
  k.profile_id, k.enabled, k.rate_limit_per_hour, k.metadata, k.last_used_at, k.expires_at, k.revoked_at,
  k.credits_remaining, k.credits_refill_interval, k.credits_refill_amount, k.credits_refill_day,
  k.credits_refilled_at, k.credits_low_threshold, k.keyspace_id, k.external_id, k.ratelimits, k.roles,
  ${unkeyColumns("k")},
  a.plan, a.max_active_keys, a.rate_limit_per_hour AS account_rate_limit_per_hour, a.webhooks_version,
  p.permissions AS p_permissions
FROM api_keys k
JOIN accounts a ON a.id = k.account_id
LEFT JOIN permission_profiles p ON p.id = k.profile_id
WHERE (k.hash IN (${list}) OR k.previous_hash IN (${list}))
  -- A deleted account's keys are refused from the deletion's first write on.
  AND a.deleted_at IS NULL`;
}

/** Per D1 binding, the statement for each number of hashes, prepared once. */
const findKeysStatements = new WeakMap<D1Database, Map<number, D1PreparedStatement>>();

/**
 * At most 100 requests' lookups in one query. A request that has waited 1 s for a shared query
 * (whose request may have been cancelled) reads alone.
 */
const LOOKUP_BATCHING = { max: 100, patience: 1_000, onAbandon: "alone" } as const;

/**
 * Concurrent requests' lookups, read together (`lib/batched`): a request that finds no lookup in
 * flight queries at once; those that arrive while one is in flight share the next query, which
 * starts after they arrived — so each still reads D1 as it is after its own arrival. Each gets its
 * own copy of the row.
 */
const lookup = batched<Db, string, FoundKey | undefined>(async (db, hashes) => {
  const distinct = [...new Set(hashes)];
  const bySize = memo(findKeysStatements, db.$client, () => new Map<number, D1PreparedStatement>());
  let statement = bySize.get(distinct.length);
  if (!statement) {
    statement = db.$client.prepare(findKeysSql(distinct.length));
    bySize.set(distinct.length, statement);
  }
  const { results } = await statement.bind(...distinct).all<Row>();
  return hashes.map((hash) => {
    const r = results.find((row) => row.hash === hash) ?? results.find((row) => row.previous_hash === hash);
    if (!r) return undefined;
    return {
      key: keyOf(r),
      account: {
        plan: String(r.plan),
        maxActiveKeys: num(r.max_active_keys),
        rateLimitPerHour: num(r.account_rate_limit_per_hour),
        webhooksVersion: Number(r.webhooks_version),
      },
      profilePermissions: jsonColumn<string[]>(r.p_permissions),
    };
  });
}, LOOKUP_BATCHING);

export function findKeyForAuth(db: Db, hash: string): Promise<FoundKey | undefined> {
  return lookup(db, hash);
}

/*
 * Spending credits. One statement checks what is left (a due refill applied: see
 * features/keys/credits.ts), takes `cost` off and records the use, or changes nothing when there is
 * not enough: SQLite runs it alone, so concurrent requests can never spend the same credit twice.
 * ?1 = the key's id or hash, ?2 = cost, ?3 = now, ?4 = the last daily boundary, ?5 = the last
 * monthly boundary per refill day (JSON).
 */
const BOUNDARY = `(CASE credits_refill_interval WHEN 'daily' THEN ?4 WHEN 'monthly' THEN json_extract(?5, '$[' || (coalesce(credits_refill_day, 1) - 1) || ']') END)`;
const DUE = `(credits_refill_amount IS NOT NULL AND ${BOUNDARY} > coalesce(credits_refilled_at, 0))`;
const AVAILABLE = `(CASE WHEN ${DUE} THEN credits_refill_amount ELSE credits_remaining END)`;
const SPEND = `UPDATE api_keys SET
  credits_remaining = ${AVAILABLE} - ?2,
  credits_refilled_at = CASE WHEN ${DUE} THEN ${BOUNDARY} ELSE credits_refilled_at END,
  last_used_at = ?3`;
const CREDIT_COLUMNS = `credits_remaining, credits_refill_interval, credits_refill_amount, credits_refill_day,
  credits_refilled_at, credits_low_threshold`;

/** After the key was read and admitted: spends by id. Null if there was not enough left. */
const SPEND_BY_ID = `${SPEND}
WHERE id = ?1 AND credits_remaining IS NOT NULL AND ${AVAILABLE} >= ?2
RETURNING ${CREDIT_COLUMNS}`;

/**
 * A key this isolate knows has credits: the lookup and the spend in one statement, every check SQL
 * can make in its WHERE (the rest — plan, scopes, rate limit — follow in memory, and a refusal there
 * gives the credits back). No row: not such a key any more, or not enough left; the caller reads.
 */
const SPEND_BY_HASH = `${SPEND}
WHERE (hash = ?1 OR (previous_hash = ?1 AND previous_hash_expires_at > ?3))
  AND credits_remaining IS NOT NULL AND revoked_at IS NULL AND enabled = 1
  AND (expires_at IS NULL OR expires_at > ?3) AND ${AVAILABLE} >= ?2
  AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = api_keys.account_id AND a.deleted_at IS NULL)
RETURNING id, account_id, name, hash, previous_hash_expires_at, scopes, profile_id, enabled,
  rate_limit_per_hour, metadata, last_used_at, expires_at, revoked_at, ${CREDIT_COLUMNS}, keyspace_id, external_id, ratelimits, roles,
  ${unkeyColumns("api_keys")},
  (SELECT json_array(plan, max_active_keys, rate_limit_per_hour, webhooks_version)
     FROM accounts a WHERE a.id = api_keys.account_id) AS account,
  (SELECT permissions FROM permission_profiles p WHERE p.id = api_keys.profile_id) AS p_permissions`;

type Row = Record<string, string | number | null>;

const num = (v: string | number | null | undefined) => (v === null || v === undefined ? null : Number(v));
const str = (v: string | number | null | undefined) => (v === null || v === undefined ? null : String(v));

function creditsOf(r: Row) {
  return {
    creditsRemaining: num(r.credits_remaining),
    creditsRefillInterval: str(r.credits_refill_interval),
    creditsRefillAmount: num(r.credits_refill_amount),
    creditsRefillDay: num(r.credits_refill_day),
    creditsRefilledAt: num(r.credits_refilled_at),
    creditsLowThreshold: num(r.credits_low_threshold),
  };
}

/** A hot-path key from a row of the lookup or of the spend (the same columns, by their SQL names). */
function keyOf(r: Row): AuthKey {
  return {
    id: String(r.id),
    accountId: String(r.account_id),
    name: String(r.name),
    hash: String(r.hash),
    previousHashExpiresAt: num(r.previous_hash_expires_at),
    scopes: jsonColumn<string[]>(r.scopes),
    profileId: str(r.profile_id),
    enabled: Boolean(r.enabled),
    rateLimitPerHour: num(r.rate_limit_per_hour),
    metadata: jsonColumn<Record<string, unknown>>(r.metadata) ?? {},
    lastUsedAt: num(r.last_used_at),
    expiresAt: num(r.expires_at),
    revokedAt: num(r.revoked_at),
    ...creditsOf(r),
    keyspaceId: str(r.keyspace_id),
    externalId: str(r.external_id),
    ratelimits: jsonColumn<NamedRateLimit[]>(r.ratelimits),
    roles: jsonColumn<string[]>(r.roles),
    roleNames: jsonColumn<string[]>(r.role_names),
    rolePermissions: jsonColumn<string[]>(r.role_permissions),
    identity: jsonColumn<KeyIdentity>(r.identity),
  };
}

export type SpentCredits = ReturnType<typeof creditsOf>;

const bindSpend = (db: Db, sql: string, target: string, cost: number, now: number, bounds: Bounds) =>
  db.$client.prepare(sql).bind(target, cost, now, bounds.day, bounds.months);

interface Bounds {
  day: number;
  months: string;
}

/** Spends `cost` of a key's credits by id: what is left after, or null (not enough, or no credits). */
export async function spendCredits(db: Db, id: string, cost: number, now: number, bounds: Bounds) {
  const row = await bindSpend(db, SPEND_BY_ID, id, cost, now, bounds).first<Row>();
  return row ? creditsOf(row) : null;
}

/** The lookup and the spend in one statement (see SPEND_BY_HASH): the key as `findKeyForAuth` has it. */
export async function findAndSpend(db: Db, hash: string, cost: number, now: number, bounds: Bounds) {
  const r = await bindSpend(db, SPEND_BY_HASH, hash, cost, now, bounds).first<Row>();
  if (!r) return null;
  // One subquery reads the account's row once (a row read per column otherwise).
  const account = jsonColumn<[string, number | null, number | null, number]>(r.account);
  if (!account) return null; // the account's row went between the spend and the read: as if not found
  const [plan, maxActiveKeys, rateLimitPerHour, webhooksVersion] = account;
  const found: FoundKey = {
    key: keyOf(r),
    account: { plan, maxActiveKeys, rateLimitPerHour, webhooksVersion },
    profilePermissions: jsonColumn<string[]>(r.p_permissions),
  };
  return found;
}

/** Gives back what a request spent before a later check refused it. */
export function refundCredits(db: Db, id: string, cost: number) {
  return db.$client
    .prepare(
      "UPDATE api_keys SET credits_remaining = credits_remaining + ?2 WHERE id = ?1 AND credits_remaining IS NOT NULL",
    )
    .bind(id, cost)
    .run();
}

/** First use is written at once; later ones at most once per `staleBefore` window. */
export function touchLastUsed(db: Db, id: string, now: number, staleBefore: number) {
  return db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(and(eq(apiKeys.id, id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, staleBefore))))
    .run();
}

/**
 * A user token's account, read on every request with the permissions of its `profile_id` (so a
 * deleted account's tokens stop at once, and a profile's edits apply at once): undefined if the
 * account does not exist or was deleted; `permissions` null if there is no such profile.
 */
export function tokenAccount(db: Db, accountId: string, profileId: string | null) {
  return db
    .select({ permissions: permissionProfiles.permissions })
    .from(accounts)
    .leftJoin(
      permissionProfiles,
      and(eq(permissionProfiles.id, profileId ?? ""), eq(permissionProfiles.accountId, accounts.id)),
    )
    .where(and(eq(accounts.id, accountId), isNull(accounts.deletedAt)))
    .get();
}

import type { z } from "@hono/zod-openapi";
import type { ApiKeyRow, NamedRateLimit } from "../../db/schema";
import type { Caller } from "../../lib/caller";
import { sha256Hex } from "../../lib/crypto";
import { newId } from "../../lib/encoding";
import { ApiError } from "../../lib/errors";
import { assertCanGrant } from "../../lib/permissions";
import { planLimits } from "../../lib/plans";
import { toActor } from "../../lib/principal";
import { found, isoOrNull, page } from "../../lib/schemas";
import type { Platform } from "../../platform";
import type { AccountsService } from "../accounts/accounts.service";
import { auditRow, diff } from "../audit/audit.service";
import type { EdgeService } from "../edge/edge.service";
import type { EventsService } from "../events/events.service";
import { keyRequests, USAGE_HISTORY_HOURS } from "../ratelimit/limits";
import { boundaryParams } from "./credits";
import { generateApiKey, unkeyStyleKey } from "./key-format";
import * as repo from "./keys.repo";
import type { AdjustCreditsBody, CreateKeyBody, CreditsInput, RotateKeyBody, UpdateKeyBody } from "./keys.schemas";
import { auditedFields, toApiKey } from "./keys.view";

const DAY_MS = 86_400_000;
/** `api_key.expiring` goes out this long before a key expires. */
const EXPIRING_NOTICE_MS = 7 * DAY_MS;

function expiry(input: { expiresInDays?: number; expiresAt?: string | null }, now: number) {
  if (input.expiresInDays !== undefined) return now + input.expiresInDays * DAY_MS;
  if (input.expiresAt === undefined) return undefined;
  return input.expiresAt === null ? null : Date.parse(input.expiresAt);
}

/**
 * The scopes a key is stored with. Null (legacy full access) only when the key has no profile: a key
 * given a profile and no scopes holds exactly the profile's permissions, so its own scopes are [].
 */
function ownScopes(scopes: string[] | null, profileId: string | null): string[] | null {
  return scopes === null && profileId !== null ? [] : scopes;
}

/** The credit columns for what a create or update sent: null = no credits (unlimited). */
function creditColumns(input: z.infer<typeof CreditsInput> | null, now: number) {
  return {
    creditsRemaining: input?.remaining ?? null,
    creditsRefillInterval: input?.refill?.interval ?? null,
    creditsRefillAmount: input?.refill?.amount ?? null,
    creditsRefillDay: input?.refill?.interval === "monthly" ? (input.refill.dayOfMonth ?? 1) : null,
    // Counted from now: the first refill is at the next boundary.
    creditsRefilledAt: input ? now : null,
    // The default, 10 % of the allowance, is fixed when the credits are set (not of what is left).
    creditsLowThreshold: input
      ? (input.lowThreshold ?? Math.floor((input.refill?.amount ?? input.remaining) / 10))
      : null,
  };
}

/** What `/v2` makes or imports a key of an Unkey API from (features/unkey). */
export interface ApiKeyInput {
  keyspaceId: string;
  name?: string | undefined;
  prefix?: string | undefined;
  byteLength?: number | undefined;
  /** An imported key's start (as Unkey showed it). */
  start?: string | undefined;
  externalId?: string | undefined;
  meta?: Record<string, unknown> | undefined;
  permissions?: string[] | undefined;
  expiresAt?: number | undefined;
  enabled?: boolean | undefined;
  credits?: z.infer<typeof CreditsInput> | null | undefined;
  ratelimits?: NamedRateLimit[] | undefined;
  /** Unkey roles by id (they exist: `/v2` checked). */
  roles?: string[] | undefined;
}

/** The row of a key of an Unkey API: made (`secret.key`) or imported (only its hash and start known). */
function rowForApi(
  caller: Caller,
  input: ApiKeyInput,
  secret: { hash: string; start: string; key: string },
  at: number,
): ApiKeyRow {
  return {
    id: newId("key", at),
    accountId: caller.accountId,
    name: input.name ?? "",
    hash: secret.hash,
    previousHash: null,
    previousHashExpiresAt: null,
    prefix: secret.start,
    last4: secret.key.slice(-4),
    scopes: [...new Set(input.permissions ?? [])],
    profileId: null,
    enabled: input.enabled ?? true,
    rateLimitPerHour: null,
    metadata: input.meta ?? {},
    createdBy: toActor(caller.principal),
    createdAt: at,
    updatedAt: at,
    lastUsedAt: null,
    expiresAt: input.expiresAt ?? null,
    revokedAt: null,
    expiringNotifiedAt: null,
    ...creditColumns(input.credits ?? null, at),
    keyspaceId: input.keyspaceId,
    externalId: input.externalId ?? null,
    ratelimits: input.ratelimits && input.ratelimits.length > 0 ? input.ratelimits : null,
    roles: input.roles && input.roles.length > 0 ? [...new Set(input.roles)] : null,
  };
}

/** The audit entry of a key's creation: every field it was made with. */
const createdAudit = (caller: Caller, apiKey: ReturnType<typeof toApiKey>, at: number) =>
  auditRow(
    caller.audit,
    caller.accountId,
    "api_key.created",
    { type: "api_key", id: apiKey.id, name: apiKey.name },
    diff(null, auditedFields(apiKey)),
    at,
  );

const unique = (scopes: string[] | null) => (scopes === null ? null : [...new Set(scopes)]);

export interface KeysDeps {
  events: () => EventsService;
  accounts: AccountsService;
  /** Every change to a key is invalidated at the edge before the call answers. */
  edge: () => EdgeService;
}

/** API keys: issue, list, change, revoke, rotate; their usage; the expiry notices. */
export function createKeysService(platform: Platform, deps: KeysDeps) {
  const { db, settings, now } = platform;

  /**
   * No one hands out rights they do not hold: null scopes mean full access (which needs `*`), and a
   * profile's permissions count as granted. The profile must be in the same account.
   */
  async function checkGrant(caller: Caller, scopes: string[] | null | undefined, profileId: string | null | undefined) {
    if (scopes !== undefined) assertCanGrant(caller.principal.permissions, scopes ?? ["*"]);
    if (!profileId) return;
    const profile = await repo.findProfilePermissions(db, caller.accountId, profileId);
    if (!profile) {
      throw new ApiError("validation_failed", "Invalid request: profileId: no such permission profile", [
        { path: "profileId", message: "no such permission profile" },
      ]);
    }
    assertCanGrant(caller.principal.permissions, profile.permissions);
  }

  const load = async (caller: Caller, id: string) => found(await repo.getKey(db, caller.accountId, id), "API key");

  /** Keyhook's own events, published after the change is stored (a failure is logged). */
  const emit = (caller: Caller, type: string, entity: Record<string, unknown>, after?: Promise<unknown>) =>
    deps.events().announce(caller, type, entity, after);

  /**
   * Applies `changes` with its audit entry in one batch and answers the key as it now is. The new
   * `updatedAt` is unique per change, which is what the audit entry's guard checks for.
   */
  async function change(
    caller: Caller,
    id: string,
    action: string,
    changes: Partial<ApiKeyRow>,
    loaded?: repo.KeyWithProfile,
  ) {
    const at = now();
    const before = loaded ?? (await load(caller, id));
    const defined = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
    const key: ApiKeyRow = { ...before.key, ...defined, updatedAt: Math.max(at, before.key.updatedAt + 1) };
    const profilePermissions =
      key.profileId === before.key.profileId
        ? before.profilePermissions
        : key.profileId
          ? ((await repo.findProfilePermissions(db, caller.accountId, key.profileId))?.permissions ?? null)
          : null;
    const after = toApiKey({ key, profilePermissions }, { now: now() });
    const changed = diff(auditedFields(toApiKey(before, { now: now() })), auditedFields(after));
    const audit = auditRow(
      caller.audit,
      caller.accountId,
      action,
      { type: "api_key", id, name: key.name },
      changed,
      at,
    );
    if (!(await repo.updateKey(db, caller.accountId, id, { ...changes, updatedAt: key.updatedAt }, audit))) {
      throw new ApiError("not_found", "API key not found");
    }
    // The purge's wait and the event's outbox write run together; the event is sent once the purge holds.
    const purged = deps.edge().invalidate([`k:${id}`]);
    await Promise.all([purged, emit(caller, action, changes.revokedAt ? { id, name: key.name } : after, purged)]);
    return after;
  }

  return {
    async create(caller: Caller, input: z.infer<typeof CreateKeyBody>) {
      const at = now();
      const scopes = ownScopes(input.scopes ?? null, input.profileId ?? null);
      await checkGrant(caller, scopes, input.profileId);
      const account = found(await deps.accounts.find(caller.accountId), "Account");
      const { maxActiveKeys } = planLimits(account.plan, account);
      const secret = generateApiKey(settings);
      const row: ApiKeyRow = {
        id: newId("key", at),
        accountId: caller.accountId,
        name: input.name,
        hash: await sha256Hex(secret.key),
        previousHash: null,
        previousHashExpiresAt: null,
        prefix: secret.prefix,
        last4: secret.last4,
        scopes: unique(scopes),
        profileId: input.profileId ?? null,
        enabled: true,
        rateLimitPerHour: input.rateLimitPerHour ?? null,
        metadata: input.metadata ?? {},
        createdBy: toActor(caller.principal),
        createdAt: at,
        updatedAt: at,
        lastUsedAt: null,
        expiresAt: expiry(input, at) ?? null,
        revokedAt: null,
        expiringNotifiedAt: null,
        ...creditColumns(input.credits ?? null, at),
        keyspaceId: null,
        externalId: null,
        ratelimits: null,
        roles: null,
      };
      const profile = input.profileId
        ? await repo.findProfilePermissions(db, caller.accountId, input.profileId)
        : undefined;
      const apiKey = toApiKey({ key: row, profilePermissions: profile?.permissions ?? null }, { now: now() });
      const audit = createdAudit(caller, apiKey, at);
      if (!(await repo.insertKeyWithinLimit(db, row, maxActiveKeys, at, audit))) {
        throw new ApiError(
          "key_limit_reached",
          `This account already has ${maxActiveKeys} active API keys, the most its plan allows; revoke one first`,
          { maxActiveKeys },
        );
      }
      await emit(caller, "api_key.created", apiKey);
      return { apiKey, key: secret.key };
    },

    /**
     * A key of an Unkey API (`/v2`, features/unkey): the host's customer's key, which only verifies,
     * made here (`<prefix>_<base58>`, shown once; `importForApi` takes them by hash). Its permissions
     * are Unkey's, matched exactly; no key limit applies. Audited and announced as any key.
     */
    async createForApi(caller: Caller, input: ApiKeyInput) {
      const at = now();
      const secret = unkeyStyleKey(input.prefix, input.byteLength ?? 16);
      const row = rowForApi(caller, input, { hash: await sha256Hex(secret.key), ...secret }, at);
      const apiKey = toApiKey({ key: row, profilePermissions: null }, { now: at });
      await repo.insertApiKey(db, row, createdAudit(caller, apiKey, at));
      await emit(caller, "api_key.created", apiKey);
      return { row, key: secret.key };
    },

    /**
     * Keys of an Unkey API imported by their SHA-256 (hex): one batch and one audit entry for them
     * all (`api_key.imported`, with the count), no event per key. A hash a key already has, or that
     * repeats, is refused; the rest go in. Answers the ids by hash, and the hashes refused.
     */
    async importForApi(
      caller: Caller,
      keyspaceId: string,
      keys: (Omit<ApiKeyInput, "keyspaceId"> & { hash: string })[],
    ) {
      const at = now();
      const taken = await repo.existingHashes(
        db,
        keys.map((k) => k.hash),
      );
      const rows: ApiKeyRow[] = [];
      const refused: string[] = [];
      for (const k of keys) {
        if (taken.has(k.hash)) refused.push(k.hash);
        else {
          taken.add(k.hash);
          rows.push(rowForApi(caller, { ...k, keyspaceId }, { hash: k.hash, start: k.start ?? "", key: "" }, at));
        }
      }
      const target = { type: "keyspace", id: keyspaceId, name: null };
      const audit = auditRow(
        caller.audit,
        caller.accountId,
        "api_key.imported",
        target,
        {
          keys: { before: null, after: rows.length },
        },
        at,
      );
      const written = await repo.insertImported(db, rows, audit);
      return {
        migrated: rows.filter((r) => written.has(r.id)).map((r) => ({ hash: r.hash, keyId: r.id })),
        failed: [...refused, ...rows.filter((r) => !written.has(r.id)).map((r) => r.hash)],
      };
    },

    /** A change to a key of an Unkey API, as `/v2` translated it: audited, purged at the edge, announced. */
    async updateForApi(
      caller: Caller,
      id: string,
      changes: Partial<ApiKeyRow>,
      credits?: z.infer<typeof CreditsInput> | null,
    ) {
      const all = credits === undefined ? changes : { ...changes, ...creditColumns(credits, now()) };
      await change(caller, id, changes.revokedAt ? "api_key.revoked" : "api_key.updated", all);
    },

    /** A live key of an Unkey API (its row), or 404. */
    async getForApi(caller: Caller, id: string) {
      const row = await repo.getKey(db, caller.accountId, id);
      if (!row || row.key.keyspaceId === null) throw new ApiError("not_found", "Key not found");
      return row.key;
    },

    /** An Unkey API's live keys, newest first (the rows: `/v2` shapes them). */
    listForApi: (
      caller: Caller,
      keyspace: { id: string; externalId?: string | undefined },
      limit: number,
      cursor: string | undefined,
    ) => repo.listKeys(db, caller.accountId, limit, cursor, keyspace),

    async list(caller: Caller, limit: number, cursor: string | undefined) {
      const { items, nextCursor } = page(
        (await repo.listKeys(db, caller.accountId, limit + 1, cursor)).map((k) => toApiKey(k, { now: now() })),
        limit,
      );
      return { apiKeys: items, nextCursor };
    },

    async get(caller: Caller, id: string) {
      return toApiKey(await load(caller, id), { now: now() });
    },

    async update(caller: Caller, id: string, input: z.infer<typeof UpdateKeyBody>) {
      const before = await load(caller, id);
      const profileId = input.profileId === undefined ? before.key.profileId : input.profileId;
      const current = input.scopes === undefined ? before.key.scopes : input.scopes;
      // Giving a legacy full-access key a profile narrows it to the profile, as creating it so would.
      const scopes = ownScopes(current, profileId);
      const scopesChange = input.scopes === undefined && scopes === current ? undefined : scopes;
      await checkGrant(caller, scopesChange, input.profileId);
      const expiresAt = expiry(input, now());
      return change(
        caller,
        id,
        "api_key.updated",
        {
          // A new expiry earns a new `api_key.expiring` notice.
          expiringNotifiedAt: expiresAt === undefined ? undefined : null,
          name: input.name,
          scopes: scopesChange === undefined ? undefined : unique(scopesChange),
          profileId: input.profileId,
          expiresAt,
          rateLimitPerHour: input.rateLimitPerHour,
          metadata: input.metadata,
          enabled: input.enabled,
          ...(input.credits === undefined ? {} : creditColumns(input.credits, now())),
        },
        before,
      );
    },

    /** `set`, `increment` or `decrement` a key's credits, atomically with the requests spending them. */
    async adjustCredits(caller: Caller, id: string, input: z.infer<typeof AdjustCreditsBody>) {
      const before = await load(caller, id);
      const at = now();
      if (input.op !== "set" && before.key.creditsRemaining === null) {
        throw new ApiError(
          "conflict",
          `This key has no usage credits to ${input.op}; give it some with {"op": "set"} or PATCH credits`,
        );
      }
      const had = toApiKey(before, { now: at }).credits?.remaining ?? null;
      const expected =
        input.op === "set"
          ? input.amount
          : Math.max(0, (had ?? 0) + (input.op === "increment" ? input.amount : -input.amount));
      const updatedAt = Math.max(at, before.key.updatedAt + 1);
      const audit = auditRow(
        caller.audit,
        caller.accountId,
        "api_key.credits_updated",
        { type: "api_key", id, name: before.key.name },
        {
          credits: {
            before: had === null ? null : { remaining: had },
            after: { remaining: expected, [input.op]: input.amount },
          },
        },
        at,
      );
      const change = { ...input, now: at, ...boundaryParams(at) };
      if ((await repo.adjustCredits(db, caller.accountId, id, change, updatedAt, audit)) === null) {
        throw new ApiError("not_found", "API key not found");
      }
      await deps.edge().invalidate([`k:${id}`]);
      const apiKey = toApiKey(await load(caller, id), { now: now() });
      await emit(caller, "api_key.credits_updated", { id, name: apiKey.name, credits: apiKey.credits });
      return apiKey;
    },

    /** Immediate and permanent: the key record is read from D1 on every request, so the next one is 401. */
    async revoke(caller: Caller, id: string) {
      await change(caller, id, "api_key.revoked", { revokedAt: now() });
    },

    /** A new secret for the same record; the old one keeps working for `gracePeriodSeconds`. */
    async rotate(caller: Caller, id: string, input: Partial<z.infer<typeof RotateKeyBody>>) {
      const loaded = await load(caller, id);
      const grace = input.gracePeriodSeconds ?? 0;
      const secret = generateApiKey(settings);
      const apiKey = await change(
        caller,
        id,
        "api_key.rotated",
        {
          hash: await sha256Hex(secret.key),
          prefix: secret.prefix,
          last4: secret.last4,
          previousHash: grace > 0 ? loaded.key.hash : null,
          previousHashExpiresAt: grace > 0 ? now() + grace * 1000 : null,
        },
        loaded,
      );
      return { apiKey, key: secret.key };
    },

    /** Hourly request counts of the last 48 hours, from the rate counters (which expire on their own). */
    async usage(caller: Caller, id: string) {
      await load(caller, id);
      return { keyId: id, usage: await hourly(platform, id) };
    },

    /** The same for a page of keys (the admin table), in one call; ids of other accounts are left out. */
    async usageOf(caller: Caller, ids: string[]) {
      const live = await repo.liveKeyIds(db, caller.accountId, [...new Set(ids)]);
      const usage = await Promise.all(live.map(async (keyId) => ({ keyId, usage: await hourly(platform, keyId) })));
      return { keys: usage };
    },

    /** The cron: `api_key.expiring` for keys that expire within 7 days, once per expiry. */
    async announceExpiring(limit = 100) {
      const at = now();
      let announced = 0;
      for (const key of await repo.keysExpiringSoon(db, at, EXPIRING_NOTICE_MS, limit)) {
        if (!(await repo.markExpiringNotified(db, key.id, at))) continue;
        const entity = { id: key.id, name: key.name, prefix: key.prefix, expiresAt: isoOrNull(key.expiresAt) };
        await deps
          .events()
          .publish(
            { accountId: key.accountId, webhooksVersion: null },
            { type: "api_key.expiring", entity },
            { send: "queue" },
          );
        announced++;
      }
      return announced;
    },
  };
}

async function hourly({ kv, now, log }: Platform, keyId: string) {
  const windows = await keyRequests(kv, log).history(keyId, USAGE_HISTORY_HOURS, now());
  return windows.map((w) => ({ hour: new Date(w.start).toISOString(), requests: w.count }));
}

export type KeysService = ReturnType<typeof createKeysService>;

import type { OpenAPIHono } from "@hono/zod-openapi";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { z } from "zod";
import type { ApiKeyRow, IdentityRow, KeyRoleRow } from "../../db/schema";
import type { AppEnv } from "../../http/context";
import { authenticate, callerOf, requireAccount, requireScope } from "../../http/middleware/auth";
import { newId, toHex } from "../../lib/encoding";
import { ApiError, validationError } from "../../lib/errors";
import type { AuthKey, KeyIdentity } from "../auth/auth.repo";
import type { KeyAdmission } from "../auth/key-admission";
import { keysTags } from "../edge/records";
import { identityData, limitsOf, registerIdentities } from "./identities.handlers";
import { parsePermissionQuery, satisfies } from "./permission-query";
import { limitOne, registerRatelimit } from "./ratelimit.handlers";
import { existingRoles, grantable, registerRbac } from "./rbac.handlers";
import { audited, body, type C, type Op, ok, paged, present } from "./unkey.handlers";
import * as m from "./unkey.models";
import {
  deleteKeyspace,
  ensureIdentities,
  findKeyspace,
  identitiesOf,
  insertKeyspace,
  permissionsOf,
  rolesOf,
} from "./unkey.repo";

/**
 * Unkey's v2 API under `/v2` (docs/unkey.md): `POST /v2/<namespace>.<operation>`, the official
 * `@unkey/api` client unchanged but its `serverURL`. An adapter over Keyhook's keys and auth
 * services: an account is an Unkey workspace, its root key a Keyhook key of the account holding the
 * permission a route needs (`keys:write`, `keys:read`, `keys:verify`; a full-access key works), an
 * Unkey API a key space of the account (`keyspaces`). Keys of an API only verify: they never
 * authenticate to Keyhook. Identities (`identities.handlers.ts`), permissions and roles (`rbac.handlers.ts`)
 * and named rate limits (`ratelimit.handlers.ts`) are their own records, read with the key on the hot path.
 * Answers `{meta: {requestId}, data}`; times in unix ms; absent fields left out, never `null`.
 * Errors: `http/on-error.ts`.
 */

function creditsOf(row: ApiKeyRow) {
  if (row.creditsRemaining === null && row.creditsRefillInterval === null) return undefined;
  return present({
    remaining: row.creditsRemaining,
    refill:
      row.creditsRefillInterval && row.creditsRefillAmount
        ? present({
            interval: row.creditsRefillInterval as "daily" | "monthly",
            amount: row.creditsRefillAmount,
            refillDay: row.creditsRefillInterval === "monthly" ? (row.creditsRefillDay ?? undefined) : undefined,
          })
        : undefined,
  });
}

/** A key's identity as answered: the record when there is one, else just its `externalId`. */
const identityOf = (externalId: string | null, found: IdentityRow | KeyIdentity | null | undefined) =>
  found ? identityData(found) : externalId ? { id: externalId, externalId } : undefined;

/**
 * A key as Unkey's `KeyResponseData` (`identities`, `roles`: the account's identities and roles of
 * the keys shaped; a key holds roles by id, answered by name).
 */
function keyData(row: ApiKeyRow, identities: IdentityRow[], roles: KeyRoleRow[]) {
  const names = (row.roles ?? []).flatMap((id) => roles.filter((r) => r.id === id).map((r) => r.name));
  return present({
    keyId: row.id,
    start: row.prefix,
    enabled: row.enabled,
    createdAt: row.createdAt,
    name: row.name || undefined,
    meta: Object.keys(row.metadata).length > 0 ? row.metadata : undefined,
    updatedAt: row.updatedAt,
    lastUsedAt: row.lastUsedAt ?? undefined,
    expires: row.expiresAt ?? undefined,
    permissions: row.scopes && row.scopes.length > 0 ? row.scopes : undefined,
    roles: names.length > 0 ? names : undefined,
    credits: creditsOf(row),
    identity: identityOf(
      row.externalId,
      identities.find((i) => i.externalId === row.externalId),
    ),
    ratelimits: limitsOf(row.ratelimits),
  });
}

/** Keys as answered, with their identities and roles (one read of each for them all). */
async function keysData(c: C, rows: ApiKeyRow[]) {
  const { db } = c.var.services.platform;
  const externalIds = rows.flatMap((r) => (r.externalId ? [r.externalId] : []));
  const [identities, roles] = await Promise.all([
    identitiesOf(db, c.var.accountId, externalIds),
    rolesOf(
      db,
      c.var.accountId,
      rows.flatMap((r) => r.roles ?? []),
    ),
  ]);
  return rows.map((r) => keyData(r, identities, roles));
}

/** Keyhook's credits input from Unkey's (`refillDay` is Keyhook's `dayOfMonth`). */
function creditsInput(credits: z.infer<typeof m.CreateKey>["credits"] | null) {
  if (!credits) return undefined;
  if (credits.remaining === null) return null;
  return {
    remaining: credits.remaining,
    ...(credits.refill
      ? {
          refill: {
            interval: credits.refill.interval,
            amount: credits.refill.amount,
            ...(credits.refill.refillDay ? { dayOfMonth: credits.refill.refillDay } : {}),
          },
        }
      : {}),
  };
}

/** Keyhook's verdict codes as Unkey's. */
const UNKEY_CODE: Record<string, string> = {
  NOT_FOUND: "NOT_FOUND",
  MALFORMED: "NOT_FOUND",
  REVOKED: "NOT_FOUND",
  EXPIRED: "EXPIRED",
  DISABLED: "DISABLED",
  PLAN_BLOCKED: "FORBIDDEN",
  RATE_LIMITED: "RATE_LIMITED",
  USAGE_EXCEEDED: "USAGE_EXCEEDED",
  INSUFFICIENT_SCOPE: "INSUFFICIENT_PERMISSIONS",
};

function verifyData(admitted: KeyAdmission, checked: boolean, limits: LimitOutcome[]) {
  const key = admitted.stage === "lookup" ? admitted.key : admitted.check.key;
  const code = admitted.ok ? "VALID" : (UNKEY_CODE[admitted.code] ?? "NOT_FOUND");
  if (!key || code === "NOT_FOUND") return { valid: false, code };
  const credits = admitted.stage === "lookup" ? null : admitted.credits;
  const held = [...new Set([...(key.scopes ?? []), ...(key.rolePermissions ?? [])])];
  return present({
    valid: admitted.ok,
    code,
    keyId: key.id,
    name: key.name || undefined,
    meta: Object.keys(key.metadata).length > 0 ? key.metadata : undefined,
    expires: key.expiresAt ?? undefined,
    credits: credits ? credits.remaining : (key.creditsRemaining ?? undefined),
    enabled: key.enabled,
    permissions: checked && held.length > 0 ? held : undefined,
    roles: checked && key.roleNames && key.roleNames.length > 0 ? key.roleNames : undefined,
    identity: identityOf(key.externalId, key.identity),
    ratelimits: limits.length > 0 ? limits : undefined,
  });
}

/** A named limit as verify reports it. */
interface LimitOutcome {
  exceeded: boolean;
  id: string;
  name: string;
  limit: number;
  duration: number;
  reset: number;
  remaining: number;
  autoApply: boolean;
}

/**
 * A key's SHA-256 as Keyhook keeps it (hex) from Unkey's export (base64, standard alphabet with
 * padding — what Unkey stores) or hex; null if it is neither, or not 32 bytes.
 */
function hexOfHash(hash: string): string | null {
  if (/^[0-9a-fA-F]{64}$/.test(hash)) return hash.toLowerCase();
  if (!/^[A-Za-z0-9+/]{43}=?$/.test(hash)) return null;
  const bytes = Uint8Array.from(atob(hash.endsWith("=") ? hash : `${hash}=`), (ch) => ch.charCodeAt(0));
  return bytes.length === 32 ? toHex(bytes) : null;
}

const MAX_BODY = 1024 * 1024;

export function mountUnkey(app: OpenAPIHono<AppEnv>) {
  const v2 = new Hono<AppEnv>({ strict: false });
  v2.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY,
      onError: () => {
        throw new ApiError("payload_too_large", "The body is larger than 1 MiB");
      },
    }),
  );
  v2.on(["GET", "POST"], "/liveness", (c) => ok(c, { message: "OK" }));
  v2.use("*", authenticate, requireAccount);
  const op: Op = (name, scope, handler) => {
    v2.post(`/${name}`, requireScope(scope), handler);
  };

  /** The caller's live API, or 404 (another account's is not found either). */
  const api = async (c: C, apiId: string) => {
    const found = await findKeyspace(c.var.services.platform.db, c.var.accountId, apiId);
    if (!found) throw new ApiError("not_found", `The API ${apiId} does not exist`);
    return found;
  };

  // APIs: key spaces.
  op("apis.createApi", "keys:write", async (c) => {
    const input = await body(c, m.CreateApi);
    const { db, now } = c.var.services.platform;
    const at = now();
    const row = { id: newId("api", at), accountId: c.var.accountId, name: input.name, createdAt: at, deletedAt: null };
    const target = { type: "keyspace", id: row.id, name: row.name };
    await insertKeyspace(db, row, audited(c, "keyspace.created", target, null));
    return ok(c, { apiId: row.id });
  });
  op("apis.getApi", "keys:read", async (c) => {
    const found = await api(c, (await body(c, m.ApiRef)).apiId);
    return ok(c, { id: found.id, name: found.name });
  });
  op("apis.deleteApi", "keys:write", async (c) => {
    const { apiId } = await body(c, m.ApiRef);
    const found = await api(c, apiId);
    const { platform, edge } = c.var.services;
    const at = platform.now();
    const target = { type: "keyspace", id: apiId, name: found.name };
    const audit = audited(c, "keyspace.deleted", target, null);
    const revoked = await deleteKeyspace(platform.db, c.var.accountId, apiId, at, audit);
    await edge.invalidate(keysTags(c.var.accountId, revoked));
    return ok(c, {});
  });
  op("apis.listKeys", "keys:read", async (c) => {
    const input = await body(c, m.ListKeys);
    await api(c, input.apiId);
    const keyspace = { id: input.apiId, externalId: input.externalId };
    const rows = await c.var.services.keys.listForApi(callerOf(c), keyspace, input.limit + 1, input.cursor);
    const keys = rows.map((r) => r.key);
    const shaped = await keysData(c, keys.slice(0, input.limit));
    return paged(
      c,
      keys,
      input.limit,
      (k) => k.id,
      (k) => shaped.find((d) => d.keyId === k.id),
    );
  });

  // Keys.
  op("keys.createKey", "keys:write", async (c) => {
    const input = await body(c, m.CreateKey);
    await api(c, input.apiId);
    const { settings } = c.var.services.platform;
    if (input.prefix === settings.keyPrefix) {
      throw validationError([{ path: ["prefix"], message: `${settings.keyPrefix} is Keyhook's own keys' prefix` }]);
    }
    if (input.recoverable) {
      throw validationError([{ path: ["recoverable"], message: "Keyhook never keeps a key it can show again" }]);
    }
    const roles = (await existingRoles(c, input.roles ?? [])).map((r) => r.id);
    const permissions = await grantable(c, input.permissions ?? []);
    const { db, now } = c.var.services.platform;
    if (input.externalId) await ensureIdentities(db, c.var.accountId, [input.externalId], now());
    const { row, key } = await c.var.services.keys.createForApi(callerOf(c), {
      keyspaceId: input.apiId,
      name: input.name,
      prefix: input.prefix,
      byteLength: input.byteLength,
      externalId: input.externalId,
      meta: input.meta,
      permissions,
      roles,
      expiresAt: input.expires,
      enabled: input.enabled,
      credits: creditsInput(input.credits),
      ratelimits: input.ratelimits,
    });
    return ok(c, { keyId: row.id, key });
  });
  op("keys.verifyKey", "keys:verify", async (c) => {
    const input = await body(c, m.VerifyKey);
    const query = input.permissions ? parsePermissionQuery(input.permissions) : null;
    const outcomes: LimitOutcome[] = [];
    let unknownLimit: string | null = null;
    // The key's limits that apply: every autoApply one, and those the request names (with its own
    // cost, or an ad hoc limit and duration); a name the key lacks without both is 400.
    // The key's limits count per key, its identity's per identity (shared by its keys); by name,
    // the key's come first.
    const limited = async (key: AuthKey) => {
      const counter = (l: { name: string }) =>
        key.ratelimits?.some((k) => k.name === l.name) || !key.identity
          ? `key:${key.id}`
          : `identity:${key.identity.id}`;
      const identityOwn = (key.identity?.ratelimits ?? []).filter(
        (l) => !key.ratelimits?.some((k) => k.name === l.name),
      );
      const own = [...(key.ratelimits ?? []), ...identityOwn];
      const asked = input.ratelimits ?? [];
      const applied = [
        ...own.filter((l) => l.autoApply && !asked.some((a) => a.name === l.name)).map((l) => ({ ...l, cost: 1 })),
        ...asked.map((a) => {
          const mine = own.find((l) => l.name === a.name);
          const limit = a.limit ?? mine?.limit;
          const duration = a.duration ?? mine?.duration;
          if (limit === undefined || duration === undefined) unknownLimit = a.name;
          return {
            name: a.name,
            limit: limit ?? 1,
            duration: duration ?? 1000,
            autoApply: mine?.autoApply ?? false,
            cost: a.cost ?? 1,
          };
        }),
      ];
      // Refused without counting (what the lookup spent is given back); answered as a 400 below.
      if (unknownLimit !== null) return false;
      for (const l of applied) {
        const answer = await limitOne(c, { namespace: counter(l), identifier: l.name, ...l }, true);
        outcomes.push({
          exceeded: !answer.success,
          id: l.name,
          name: l.name,
          limit: l.limit,
          duration: l.duration,
          reset: answer.reset,
          remaining: answer.remaining,
          autoApply: l.autoApply,
        });
      }
      return outcomes.every((o) => !o.exceeded);
    };
    const admitted = await c.var.services.auth.verifyForApi(input.key, {
      accountId: c.var.accountId,
      cost: input.credits?.cost ?? 1,
      limited,
      ...(query ? { permitted: (held: string[]) => satisfies(query, new Set(held)) } : {}),
    });
    if (unknownLimit !== null) {
      throw new ApiError(
        "precondition_failed",
        `Neither the key nor its identity has a rate limit named ${unknownLimit}: give its limit and duration`,
      );
    }
    return ok(c, verifyData(admitted, query !== null, outcomes));
  });
  op("keys.getKey", "keys:read", async (c) => {
    const { keyId } = await body(c, m.KeyRef);
    const [data] = await keysData(c, [await c.var.services.keys.getForApi(callerOf(c), keyId)]);
    return ok(c, data);
  });
  op("keys.whoami", "keys:read", async (c) => {
    const { key } = await body(c, m.Whoami);
    const admitted = await c.var.services.auth.verifyForApi(key, { accountId: c.var.accountId, cost: 0 });
    const found = admitted.stage === "lookup" ? admitted.key : admitted.check.key;
    if (!found || (!admitted.ok && admitted.stage === "lookup" && admitted.code === "NOT_FOUND")) {
      throw new ApiError("not_found", "The key does not exist");
    }
    const [data] = await keysData(c, [await c.var.services.keys.getForApi(callerOf(c), found.id)]);
    return ok(c, data);
  });
  op("keys.deleteKey", "keys:write", async (c) => {
    const { keyId } = await body(c, m.DeleteKey);
    const { keys, platform } = c.var.services;
    await keys.getForApi(callerOf(c), keyId);
    await keys.updateForApi(callerOf(c), keyId, { revokedAt: platform.now() });
    return ok(c, {});
  });

  op("keys.updateKey", "keys:write", async (c) => {
    const input = await body(c, m.UpdateKey);
    const { keys } = c.var.services;
    const caller = callerOf(c);
    await keys.getForApi(caller, input.keyId);
    const { db, now } = c.var.services.platform;
    if (input.externalId) await ensureIdentities(db, c.var.accountId, [input.externalId], now());
    const roles = input.roles === undefined ? undefined : (await existingRoles(c, input.roles)).map((r) => r.id);
    const permissions = input.permissions === undefined ? undefined : await grantable(c, input.permissions);
    const changes: Partial<ApiKeyRow> = present({
      name: input.name === undefined ? undefined : (input.name ?? ""),
      externalId: input.externalId,
      metadata: input.meta === undefined ? undefined : (input.meta ?? {}),
      expiresAt: input.expires,
      enabled: input.enabled,
      scopes: permissions,
      roles: roles === undefined ? undefined : roles.length > 0 ? roles : null,
      ratelimits: input.ratelimits === undefined ? undefined : input.ratelimits.length > 0 ? input.ratelimits : null,
    });
    await keys.updateForApi(
      caller,
      input.keyId,
      changes,
      input.credits === undefined ? undefined : (creditsInput(input.credits) ?? null),
    );
    return ok(c, {});
  });
  op("keys.updateCredits", "keys:write", async (c) => {
    const input = await body(c, m.UpdateCredits);
    const { keys } = c.var.services;
    const caller = callerOf(c);
    await keys.getForApi(caller, input.keyId);
    if (input.operation === "set" && (input.value === null || input.value === undefined)) {
      await keys.updateForApi(caller, input.keyId, {}, null);
    } else {
      if (input.value === null || input.value === undefined) {
        throw validationError([{ path: ["value"], message: `${input.operation} needs a value` }]);
      }
      await keys.adjustCredits(caller, input.keyId, { op: input.operation, amount: input.value });
    }
    const row = await keys.getForApi(caller, input.keyId);
    return ok(c, creditsOf(row) ?? { remaining: null });
  });
  op("keys.rerollKey", "keys:write", async (c) => {
    const input = await body(c, m.RerollKey);
    const { keys, platform } = c.var.services;
    const caller = callerOf(c);
    const old = await keys.getForApi(caller, input.keyId);
    const separator = old.prefix.lastIndexOf("_");
    const { row, key } = await keys.createForApi(caller, {
      keyspaceId: old.keyspaceId ?? "",
      name: old.name || undefined,
      prefix: separator > 0 ? old.prefix.slice(0, separator) : undefined,
      externalId: old.externalId ?? undefined,
      meta: old.metadata,
      permissions: old.scopes ?? [],
      roles: old.roles ?? undefined,
      expiresAt: old.expiresAt ?? undefined,
      enabled: old.enabled,
      ratelimits: old.ratelimits ?? undefined,
      credits:
        old.creditsRemaining === null
          ? null
          : {
              remaining: old.creditsRemaining,
              ...(old.creditsRefillInterval && old.creditsRefillAmount
                ? {
                    refill: {
                      interval: old.creditsRefillInterval as "daily" | "monthly",
                      amount: old.creditsRefillAmount,
                      ...(old.creditsRefillDay ? { dayOfMonth: old.creditsRefillDay } : {}),
                    },
                  }
                : {}),
            },
    });
    const at = platform.now();
    await keys.updateForApi(
      caller,
      old.id,
      input.expiration === 0
        ? { revokedAt: at }
        : { expiresAt: Math.min(old.expiresAt ?? Infinity, at + input.expiration) },
    );
    return ok(c, { keyId: row.id, key });
  });
  const permissionsOp = (name: string, apply: (held: string[], given: string[]) => string[]) =>
    op(name, "keys:write", async (c) => {
      const input = await body(c, m.KeyPermissions);
      const { keys } = c.var.services;
      const caller = callerOf(c);
      const row = await keys.getForApi(caller, input.keyId);
      const scopes = [...new Set(apply(row.scopes ?? [], await grantable(c, input.permissions)))];
      await keys.updateForApi(caller, input.keyId, { scopes });
      return ok(
        c,
        scopes.map((slug) => ({ id: slug, name: slug, slug })),
      );
    });
  permissionsOp("keys.addPermissions", (held, given) => [...held, ...given]);
  permissionsOp("keys.setPermissions", (_held, given) => given);
  permissionsOp("keys.removePermissions", (held, given) => held.filter((p) => !given.includes(p)));

  op("keys.migrateKeys", "keys:write", async (c) => {
    const input = await body(c, m.MigrateKeys);
    await api(c, input.apiId);
    const { db, now } = c.var.services.platform;
    const roles = await existingRoles(c, [...new Set(input.keys.flatMap((k) => k.roles ?? []))]);
    const roleIds = (refs: string[] | undefined) =>
      refs?.map((ref) => roles.find((r) => r.id === ref || r.name === ref)?.id ?? ref);
    // Permissions given by catalog id are kept as their slugs.
    const slugs = await grantable(c, [...new Set(input.keys.flatMap((k) => k.permissions ?? []))]);
    const catalog = await permissionsOf(db, c.var.accountId, slugs);
    const slugOf = (ref: string) => catalog.find((p) => p.id === ref)?.slug ?? ref;
    await ensureIdentities(
      db,
      c.var.accountId,
      input.keys.flatMap((k) => (k.externalId ? [k.externalId] : [])),
      now(),
    );
    const given = new Map<string, string>();
    const failed: string[] = [];
    const keys = input.keys.flatMap((k) => {
      const hex = hexOfHash(k.hash);
      if (!hex) {
        failed.push(k.hash);
        return [];
      }
      given.set(hex, k.hash);
      return [
        {
          hash: hex,
          name: k.name,
          externalId: k.externalId,
          meta: k.meta,
          permissions: k.permissions?.map(slugOf),
          roles: roleIds(k.roles),
          expiresAt: k.expires,
          enabled: k.enabled,
          credits: creditsInput(k.credits),
          ratelimits: k.ratelimits,
        },
      ];
    });
    const done = await c.var.services.keys.importForApi(callerOf(c), input.apiId, keys);
    return ok(c, {
      migrated: done.migrated.map((k) => ({ hash: given.get(k.hash) ?? k.hash, keyId: k.keyId })),
      failed: [...failed, ...done.failed.map((h) => given.get(h) ?? h)],
    });
  });

  registerIdentities(op);
  registerRbac(op);
  registerRatelimit(op);

  v2.all("*", (c) => {
    throw new ApiError("not_found", `No route for ${c.req.method} ${c.req.path}`);
  });
  app.route("/v2", v2);
}

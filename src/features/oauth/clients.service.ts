import type { z } from "@hono/zod-openapi";
import type { OAuthClientRow } from "../../db/schema";
import type { AuditContext, Caller } from "../../lib/caller";
import { sha256Hex } from "../../lib/crypto";
import { newId } from "../../lib/encoding";
import { ApiError } from "../../lib/errors";
import { assertCanGrant, hasPermission } from "../../lib/permissions";
import { found, iso, isoOrNull, page } from "../../lib/schemas";
import type { Platform } from "../../platform";
import { auditRow, type Changes, DEPLOYMENT_LOG, diff } from "../audit/audit.service";
import type { EdgeService } from "../edge/edge.service";
import type { EventsService } from "../events/events.service";
import type {
  CreateClientBody,
  CreateDeploymentClientBody,
  OAuthClient,
  OAuthGrant,
  UpdateClientBody,
  UserHoldingsBody,
} from "./clients.schemas";
import * as repo from "./oauth.repo";
import { isAcceptableRedirectUri } from "./redirect-uri";
import { newOAuthSecret } from "./tokens";

function toClient(row: OAuthClientRow): z.infer<typeof OAuthClient> {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    redirectUris: row.redirectUris,
    scopes: row.scopes,
    enabled: row.enabled,
    secretLast4: row.secretLast4,
    dynamic: row.dynamic,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

const audited = ({ name, type, redirectUris, scopes, enabled }: z.infer<typeof OAuthClient>) => ({
  name,
  type,
  redirectUris,
  scopes,
  enabled,
});

function checkRedirectUris(uris: string[] | undefined) {
  const bad = (uris ?? []).filter((u) => !isAcceptableRedirectUri(u));
  if (bad.length > 0) {
    throw new ApiError(
      "validation_failed",
      "Redirect URIs must be https, or http to a loopback host, without a fragment",
      [{ path: "redirectUris", message: `not acceptable: ${bad.join(" ")}` }],
    );
  }
}

export interface OAuthClientsDeps {
  events: () => EventsService;
  /** A client's, grant's or user's change is invalidated at the edge before the call answers. */
  edge: () => EdgeService;
}

/**
 * Whose clients a call manages: an account's (audited in its log, announced as `oauth_client.*`
 * events) or, with `accountId` null, the deployment's shared public clients, which the operator
 * manages outside any account (audited in the deployment's log, `DEPLOYMENT_LOG`; no events: no
 * account has webhooks for them).
 */
interface Owner {
  accountId: string | null;
  audit: AuditContext;
  permissions: readonly string[];
  caller: Caller | null;
}

const ownerOf = (caller: Caller): Owner => ({
  accountId: caller.accountId,
  audit: caller.audit,
  permissions: caller.principal.permissions,
  caller,
});

/**
 * The account's side of OAuth: its clients (`oauth_client.*` events, audited), the grants its users
 * gave, and what a user holds. A client of another account is not found, like any other record.
 * `deployment` is the operator's: public clients every account's users may authorize.
 */
export function createOAuthClientsService(platform: Platform, deps: OAuthClientsDeps) {
  const { db, settings, now } = platform;

  const auditOf = (owner: Owner, action: string, row: OAuthClientRow, changes: Changes | null, at: number) =>
    auditRow(
      owner.audit,
      owner.accountId ?? DEPLOYMENT_LOG,
      action,
      { type: "oauth_client", id: row.id, name: row.name },
      changes,
      at,
    );

  /** The account's event, after the change is stored (a failure is logged). */
  const announce = async (owner: Owner, action: string, entity: Record<string, unknown>) => {
    if (owner.caller) await deps.events().announce(owner.caller, action, entity);
  };

  /** A client of this owner (an account, or `null`: the deployment); any other is not found. */
  const load = async (accountId: string | null, id: string) =>
    found(await repo.findAccountClient(db, accountId, id), "OAuth client");

  async function change(owner: Owner, before: OAuthClientRow, changes: Partial<OAuthClientRow>, action: string) {
    const at = Math.max(now(), before.updatedAt + 1);
    const after: OAuthClientRow = { ...before, ...changes, updatedAt: at };
    const audit = auditOf(owner, action, after, diff(audited(toClient(before)), audited(toClient(after))), at);
    const row = found(await repo.updateClient(db, after, audit), "OAuth client");
    await deps.edge().invalidate([`c:${row.id}`]);
    await announce(owner, action, toClient(row));
    return row;
  }

  const newSecret = async () => {
    const secret = newOAuthSecret(settings, "clientSecret");
    return { secret, secretHash: await sha256Hex(secret), secretLast4: secret.slice(-4) };
  };

  async function create(owner: Owner, input: z.infer<typeof CreateClientBody>) {
    const at = now();
    assertCanGrant(owner.permissions, input.scopes);
    checkRedirectUris(input.redirectUris);
    if (input.type === "public" && !input.redirectUris) {
      throw new ApiError("validation_failed", "A public client needs redirect URIs (it can only use the code flow)", [
        { path: "redirectUris", message: "required for public clients" },
      ]);
    }
    const secret = input.type === "confidential" ? await newSecret() : null;
    const row: OAuthClientRow = {
      id: newId("ocl", at),
      accountId: owner.accountId,
      name: input.name,
      type: input.type,
      secretHash: secret?.secretHash ?? null,
      secretLast4: secret?.secretLast4 ?? null,
      redirectUris: [...new Set(input.redirectUris ?? [])],
      scopes: [...new Set(input.scopes)],
      dynamic: false,
      enabled: true,
      createdBy: owner.audit.actor,
      createdAt: at,
      updatedAt: at,
    };
    const client = toClient(row);
    await repo.insertClient(db, row, auditOf(owner, "oauth_client.created", row, diff(null, audited(client)), at));
    await announce(owner, "oauth_client.created", client);
    return { client, clientSecret: secret?.secret ?? null };
  }

  async function list(accountId: string | null, limit: number, cursor: string | undefined) {
    const { items, nextCursor } = page(await repo.listClients(db, accountId, limit + 1, cursor), limit);
    return { clients: items.map(toClient), nextCursor };
  }

  async function update(owner: Owner, id: string, input: z.infer<typeof UpdateClientBody>) {
    if (input.scopes) assertCanGrant(owner.permissions, input.scopes);
    checkRedirectUris(input.redirectUris);
    const before = await load(owner.accountId, id);
    const changes: Partial<OAuthClientRow> = {
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.redirectUris ? { redirectUris: [...new Set(input.redirectUris)] } : {}),
      ...(input.scopes ? { scopes: [...new Set(input.scopes)] } : {}),
      ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
    };
    return toClient(await change(owner, before, changes, "oauth_client.updated"));
  }

  async function remove(owner: Owner, id: string) {
    const client = await load(owner.accountId, id);
    const audit = auditOf(owner, "oauth_client.deleted", client, null, now());
    if (!(await repo.deleteClient(db, owner.accountId, id, audit)))
      throw new ApiError("not_found", "OAuth client not found");
    await deps.edge().invalidate([`c:${id}`]);
    await announce(owner, "oauth_client.deleted", { id, name: client.name });
  }

  /** The operator, outside any account: public clients (no secret) shared by every account's users. */
  const deploymentOwner = (audit: AuditContext): Owner => ({
    accountId: null,
    audit,
    permissions: ["*"],
    caller: null,
  });

  return {
    create: (caller: Caller, input: z.infer<typeof CreateClientBody>) => create(ownerOf(caller), input),
    list: (caller: Caller, limit: number, cursor: string | undefined) => list(caller.accountId, limit, cursor),
    get: async (caller: Caller, id: string) => toClient(await load(caller.accountId, id)),
    update: (caller: Caller, id: string, input: z.infer<typeof UpdateClientBody>) => update(ownerOf(caller), id, input),
    remove: (caller: Caller, id: string) => remove(ownerOf(caller), id),

    /** A new secret; the old one is refused from this write on (tokens already issued stay valid). */
    async rotateSecret(caller: Caller, id: string) {
      const owner = ownerOf(caller);
      const before = await load(owner.accountId, id);
      if (before.type !== "confidential") throw new ApiError("conflict", "A public client has no secret to rotate");
      const secret = await newSecret();
      const row = await change(
        owner,
        before,
        { secretHash: secret.secretHash, secretLast4: secret.secretLast4 },
        "oauth_client.secret_rotated",
      );
      return { client: toClient(row), clientSecret: secret.secret };
    },

    /** The deployment's clients (the operator's shared ones and dynamic registrations). */
    deployment: {
      create: async (audit: AuditContext, input: z.infer<typeof CreateDeploymentClientBody>) =>
        (await create(deploymentOwner(audit), { ...input, type: "public" })).client,
      list: (limit: number, cursor: string | undefined) => list(null, limit, cursor),
      get: async (id: string) => toClient(await load(null, id)),
      update: (audit: AuditContext, id: string, input: z.infer<typeof UpdateClientBody>) =>
        update(deploymentOwner(audit), id, input),
      remove: (audit: AuditContext, id: string) => remove(deploymentOwner(audit), id),
    },

    /** A user sees the apps they authorized; `oauth:read` sees every user's (or one's, by `userId`). */
    async listGrants(caller: Caller, limit: number, cursor: string | undefined, userId: string | undefined) {
      const { principal } = caller;
      const all = hasPermission(principal.permissions, "oauth:read");
      if (!all && principal.type !== "user") {
        throw new ApiError("insufficient_scope", "Missing permission: oauth:read", { missing: ["oauth:read"] });
      }
      const who = all ? (userId ?? null) : principal.id;
      const rows = await repo.listGrants(db, caller.accountId, who, limit + 1, cursor);
      const { items, nextCursor } = page(
        rows.map((r) => ({ ...r.grant, clientName: r.clientName })),
        limit,
      );
      const grants: z.infer<typeof OAuthGrant>[] = items.map((g) => ({
        id: g.id,
        client: { id: g.clientId, name: g.clientName },
        userId: g.userId,
        userName: g.userName,
        scopes: g.scopes,
        createdAt: iso(g.createdAt),
        updatedAt: iso(g.updatedAt),
        lastUsedAt: isoOrNull(g.lastUsedAt),
      }));
      return { grants, nextCursor };
    },

    /** Revokes a grant: every token under it is refused from the next request. */
    async revokeGrant(caller: Caller, id: string) {
      const { principal } = caller;
      const manager = hasPermission(principal.permissions, "oauth:write");
      if (!manager && principal.type !== "user") {
        throw new ApiError("insufficient_scope", "Missing permission: oauth:write", { missing: ["oauth:write"] });
      }
      const grant = found(await repo.findGrant(db, caller.accountId, id), "Grant");
      if (!manager && grant.userId !== principal.id) {
        // Someone else's grant, to a caller who may not manage them: as if it did not exist.
        throw new ApiError("not_found", "Grant not found");
      }
      const target = { type: "oauth_grant", id, name: grant.userName };
      const audit = auditRow(caller.audit, caller.accountId, "oauth_grant.revoked", target, null, now());
      if (!(await repo.deleteGrant(db, caller.accountId, id, audit)))
        throw new ApiError("not_found", "Grant not found");
      await deps.edge().invalidate([`g:${id}`]);
    },

    /** What a user holds now (demoted, given a profile): their apps act within it from the next request. */
    async setUserHoldings(caller: Caller, userId: string, input: z.infer<typeof UserHoldingsBody>) {
      const at = now();
      // What the caller could not grant a key, it cannot make a user hold for their apps either.
      assertCanGrant(caller.principal.permissions, input.role === "admin" ? ["*"] : input.permissions);
      const target = { type: "user", id: userId, name: userId };
      const audit = auditRow(caller.audit, caller.accountId, "oauth_user.updated", target, diff(null, input), at);
      const grantsUpdated = await repo.updateUserHoldings(
        db,
        caller.accountId,
        userId,
        { userRole: input.role, userPermissions: [...new Set(input.permissions)], userProfileId: input.profileId },
        at,
        audit,
      );
      if (grantsUpdated === 0) throw new ApiError("not_found", "This user has authorized no apps in this account");
      await deps.edge().invalidate([`u:${caller.accountId}:${userId}`]);
      return { grantsUpdated };
    },
  };
}

export type OAuthClientsService = ReturnType<typeof createOAuthClientsService>;

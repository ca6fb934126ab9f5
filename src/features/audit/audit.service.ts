import type { AuditRow } from "../../db/schema";
import type { AuditContext } from "../../lib/caller";
import { newId } from "../../lib/encoding";
import { iso, page } from "../../lib/schemas";
import type { Platform } from "../../platform";
import * as repo from "./audit.repo";

export type Changes = Record<string, { before: unknown; after: unknown }>;

/** The fields that differ, as `{field: {before, after}}`; callers pass only non-secret fields. */
export function diff<T extends Record<string, unknown>>(before: T | null, after: T | null): Changes {
  const changes: Changes = {};
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  for (const k of keys) {
    const b = before?.[k] ?? null;
    const a = after?.[k] ?? null;
    if (JSON.stringify(b) !== JSON.stringify(a)) changes[k] = { before: b, after: a };
  }
  return changes;
}

export interface AuditTarget {
  type: string;
  id: string;
  name?: string | null;
}

/** The audit row of a change; the repo that stores the change writes it in the same batch. */
export function auditRow(
  ctx: AuditContext,
  accountId: string,
  action: string,
  target: AuditTarget,
  changes: Changes | null,
  now: number,
): AuditRow {
  return {
    id: newId("aud", now),
    accountId,
    actorType: ctx.actor.type,
    actorId: ctx.actor.id,
    actorName: ctx.actor.name,
    onBehalfOf: ctx.onBehalfOf ?? null,
    action,
    targetType: target.type,
    targetId: target.id,
    targetName: target.name ?? null,
    changes,
    ip: ctx.ip,
    userAgent: ctx.userAgent,
    requestId: ctx.requestId,
    createdAt: now,
  };
}

function toAuditEntry(row: AuditRow) {
  return {
    id: row.id,
    actor: { type: row.actorType as AuditContext["actor"]["type"], id: row.actorId, name: row.actorName },
    onBehalfOf: row.onBehalfOf,
    action: row.action,
    target: { type: row.targetType, id: row.targetId, name: row.targetName },
    changes: row.changes,
    ip: row.ip,
    userAgent: row.userAgent,
    requestId: row.requestId,
    createdAt: iso(row.createdAt),
  };
}

export interface AuditQuery {
  limit: number;
  cursor?: string;
  actorId?: string;
  action?: string;
  targetId?: string;
  since?: string;
  until?: string;
}

/**
 * The log of changes made outside any account (the operator's deployment-wide OAuth clients,
 * dynamic registrations). No account id can be this one: theirs all start `acc_`.
 */
export const DEPLOYMENT_LOG = "_deployment";

export function createAuditService({ db }: Platform) {
  return {
    /** Newest first, within one account's log (or `DEPLOYMENT_LOG`). */
    async list(accountId: string, { limit, cursor, since, until, ...filter }: AuditQuery) {
      const rows = await repo.listAudit(
        db,
        accountId,
        {
          ...filter,
          cursor,
          since: since === undefined ? undefined : Date.parse(since),
          until: until === undefined ? undefined : Date.parse(until),
        },
        limit + 1,
      );
      const { items, nextCursor } = page(rows, limit);
      return { entries: items.map(toAuditEntry), nextCursor };
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;

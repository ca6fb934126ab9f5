import type { AuditRow } from "../../db/schema";
import { newId } from "../../lib/encoding";
import { type Actor, type Principal, toActor } from "../../lib/principal";
import { iso } from "../../lib/schemas";

/** Who is acting and from where: built once per request, handed to every service that writes. */
export interface AuditContext {
  actor: Actor;
  onBehalfOf: Principal["onBehalfOf"] | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

export function auditContext(principal: Principal, req: Request, requestId: string): AuditContext {
  return {
    actor: toActor(principal),
    onBehalfOf: principal.onBehalfOf ?? null,
    ip: req.headers.get("cf-connecting-ip"),
    userAgent: req.headers.get("user-agent")?.slice(0, 512) ?? null,
    requestId,
  };
}

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
    onBehalfOf: ctx.onBehalfOf ? JSON.stringify(ctx.onBehalfOf) : null,
    action,
    targetType: target.type,
    targetId: target.id,
    targetName: target.name ?? null,
    changes: changes ? JSON.stringify(changes) : null,
    ip: ctx.ip,
    userAgent: ctx.userAgent,
    requestId: ctx.requestId,
    createdAt: now,
  };
}

export function toAuditEntry(row: AuditRow) {
  return {
    id: row.id,
    actor: { type: row.actorType as Actor["type"], id: row.actorId, name: row.actorName },
    onBehalfOf: row.onBehalfOf ? (JSON.parse(row.onBehalfOf) as { type: "user"; id: string }) : null,
    action: row.action,
    target: { type: row.targetType, id: row.targetId, name: row.targetName },
    changes: row.changes ? (JSON.parse(row.changes) as Changes) : null,
    ip: row.ip,
    userAgent: row.userAgent,
    requestId: row.requestId,
    createdAt: iso(row.createdAt),
  };
}

import { type Actor, type Principal, toActor } from "./principal";

/** Who is acting and from where, as the audit entries a change writes record it. */
export interface AuditContext {
  actor: Actor;
  onBehalfOf: Principal["onBehalfOf"] | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

/** A service call made for someone: the principal, the account it acts in, and where it came from. */
export interface Caller {
  principal: Principal;
  accountId: string;
  audit: AuditContext;
  /** The account's `webhooksVersion`, when authentication read it anyway (key lookups, the operator). */
  webhooksVersion: number | null;
}

/** Where a request came from (no credential: address, agent, request id). */
export interface Origin {
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

export function callerOf(
  principal: Principal,
  accountId: string,
  origin: Origin,
  webhooksVersion: number | null,
): Caller {
  return {
    principal,
    accountId,
    audit: { actor: toActor(principal), onBehalfOf: principal.onBehalfOf ?? null, ...origin },
    webhooksVersion,
  };
}

/** Keyhook acting on its own (the consumer disabling a webhook, the cron): audited as `system`. */
export const SYSTEM_AUDIT: AuditContext = {
  actor: { type: "system", id: "keyhook", name: "Keyhook" },
  onBehalfOf: null,
  ip: null,
  userAgent: null,
  requestId: null,
};

import type { VerifyCode } from "../../lib/errors";
import { isoOrNull } from "../../lib/schemas";
import { effectiveRemaining, nextRefillAt } from "../keys/credits";
import type { AccessCheck } from "../oauth/access";
import type { Hit } from "../ratelimit/sharded-counter";
import type { Credits } from "./credit-spend";
import type { KeyAdmission } from "./key-admission";
import type { FoundCheck } from "./key-check";

/** What `POST /v1/keys/verify` and `KeyhookRpc.verify` answer. */
export interface Verdict {
  valid: boolean;
  code: VerifyCode;
  keyId: string | null;
  accountId: string | null;
  name: string | null;
  scopes: string[] | null;
  ratelimit: { limit: number; remaining: number; reset: number } | null;
  /** Keys with usage credits: what is left after this verification, and when the next refill is. */
  credits: { remaining: number; nextRefillAt: string | null } | null;
  expiresAt: string | null;
  metadata: Record<string, unknown> | null;
  /** An OAuth access token: its client, and the user it acts for (null: the client as itself). */
  oauth: { clientId: string; userId: string | null } | null;
}

const emptyVerdict = (code: VerifyCode): Verdict => ({
  valid: false,
  code,
  keyId: null,
  accountId: null,
  name: null,
  scopes: null,
  ratelimit: null,
  credits: null,
  expiresAt: null,
  metadata: null,
  oauth: null,
});

const ratelimitOf = (hit: Hit, limit: number) => ({
  limit,
  remaining: hit.remaining,
  reset: Math.ceil(hit.resetAt / 1000),
});

/** A key's verdict: refused at the lookup (with its name when it was found), or judged in full. */
export function keyVerdict(admitted: KeyAdmission, now: number): Verdict {
  if (admitted.stage === "lookup") {
    const k = admitted.key;
    return k
      ? { ...emptyVerdict(admitted.code), keyId: k.id, accountId: k.accountId, name: k.name }
      : emptyVerdict(admitted.code);
  }
  const { check } = admitted;
  return {
    valid: admitted.ok,
    code: admitted.ok ? "VALID" : admitted.code,
    keyId: check.key.id,
    accountId: check.key.accountId,
    name: check.key.name,
    scopes: check.permissions,
    ratelimit: ratelimitOf(admitted.hit, admitted.limit),
    credits: verdictCredits(check, admitted.credits, now),
    expiresAt: isoOrNull(check.key.expiresAt),
    metadata: check.key.metadata,
    oauth: null,
  };
}

/** An access token's refusal, as a key's verdict code names it. */
const tokenRefusal = { invalid: "NOT_FOUND", expired: "EXPIRED", plan: "PLAN_BLOCKED" } as const;

/** An OAuth access token's verdict: the same checks as a request made with it. */
export function tokenVerdict(
  admitted:
    | { ok: false; check: Extract<AccessCheck, { ok: false }> }
    | { ok: true; check: Extract<AccessCheck, { ok: true }>; hit: Hit },
  code: (check: Extract<AccessCheck, { ok: true }>, hit: Hit) => VerifyCode,
): Verdict {
  if (!admitted.ok) return emptyVerdict(tokenRefusal[admitted.check.reason]);
  const { check, hit } = admitted;
  const { principal } = check;
  const verdictCode = code(check, hit);
  return {
    valid: verdictCode === "VALID",
    code: verdictCode,
    keyId: null,
    accountId: principal.accountId,
    name: principal.name,
    scopes: principal.permissions,
    ratelimit: ratelimitOf(hit, hit.limit),
    credits: null,
    expiresAt: isoOrNull(check.expiresAt),
    metadata: null,
    oauth: { clientId: principal.id, userId: principal.onBehalfOf?.id ?? null },
  };
}

/** A verdict's credits: what the spend left, or (refused before spending) what the key has. */
function verdictCredits(check: FoundCheck, credits: Credits | null, now: number) {
  const c =
    credits ??
    (check.key.creditsRemaining === null
      ? null
      : { remaining: effectiveRemaining(check.key, now) ?? 0, nextRefillAt: nextRefillAt(check.key, now) });
  return c ? { remaining: c.remaining, nextRefillAt: isoOrNull(c.nextRefillAt) } : null;
}

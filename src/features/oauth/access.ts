import type { Settings } from "../../config";
import type { Db } from "../../db/client";
import { sha256Hex } from "../../lib/crypto";
import { IsolateMap } from "../../lib/isolate-memory";
import { type PlanLimits, planLimits } from "../../lib/plans";
import type { Principal } from "../../lib/principal";
import type { FoundToken } from "../edge/records";
import { touchGrant } from "./oauth.repo";
import { heldScopes } from "./scopes";
import { isOAuthSecret } from "./tokens";

/** Per-isolate memory of the last `lastUsedAt` write per grant (bounded: emptied when full). */
const touched = new IsolateMap<string, number>("oauth grants touched", 10_000);

function touchOncePerMinute(db: Db, grantId: string, now: number, waitUntil: (p: Promise<unknown>) => void) {
  if (now - (touched.get(grantId) ?? 0) < 60_000) return;
  touched.set(grantId, now);
  waitUntil(touchGrant(db, grantId, now).catch(() => undefined));
}

/** Where the hot path finds an access token's record: the edge tier (this colo's cache, or the primary). */
export type TokenRecords = (hash: string) => Promise<{ found: FoundToken | undefined; hit: boolean }>;

export type AccessCheck =
  | {
      ok: true;
      principal: Principal;
      limits: PlanLimits;
      /** What its requests are counted as against the hourly limit: the grant, or the client. */
      counterId: string;
      webhooksVersion: number | null;
      tokenId: string;
      expiresAt: number;
      grantId: string | null;
    }
  | { ok: false; reason: "invalid" | "expired" | "plan" };

/**
 * An access token, as the hot path sees it: shape and checksum, then its record from the edge tier
 * (this colo's cache, or one primary D1 read on a miss: token, client,
 * grant, the user's profile, the account). Its permissions are what it holds (`heldScopes`): the
 * granted scopes within what the user holds now, never `impersonate`.
 */
export async function checkAccessToken(
  db: Db,
  settings: Settings,
  records: TokenRecords,
  token: string,
  now: number,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<AccessCheck> {
  if (!isOAuthSecret(token, settings, "access")) return { ok: false, reason: "invalid" };
  const { found, hit } = await records(await sha256Hex(token));
  if (!found?.client.enabled) return { ok: false, reason: "invalid" };
  const { token: t, grant, account } = found;
  // A token issued under a grant that is gone (revoked since) is refused, never taken as the client's own.
  if (t.grantId !== null && (grant === null || grant.userId === null)) return { ok: false, reason: "invalid" };
  if (t.expiresAt <= now) return { ok: false, reason: "expired" };
  const limits = planLimits(account.plan, account);
  if (!limits.apiAccess) return { ok: false, reason: "plan" };
  const onBehalfOf = grant?.userId ? { type: "user" as const, id: grant.userId } : undefined;
  const permissions = heldScopes(
    t.scopes,
    grant?.userRole && grant.userPermissions
      ? { userRole: grant.userRole, userPermissions: grant.userPermissions }
      : null,
    found.profilePermissions,
  );
  if (t.grantId) touchOncePerMinute(db, t.grantId, now, waitUntil);
  return {
    ok: true,
    principal: {
      type: "oauth",
      id: t.clientId,
      name: found.client.name,
      accountId: t.accountId,
      permissions,
      ...(onBehalfOf ? { onBehalfOf } : {}),
    },
    limits,
    counterId: t.grantId ?? t.clientId,
    // A cached record's version may be old: publishing then reads the webhooks instead.
    webhooksVersion: hit ? null : account.webhooksVersion,
    tokenId: t.id,
    expiresAt: t.expiresAt,
    grantId: t.grantId,
  };
}

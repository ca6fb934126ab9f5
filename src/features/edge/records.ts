import type { Db } from "../../db/client";
import { type FoundKey, findKeyForAuth } from "../auth/auth.repo";
import { findAccessToken } from "../oauth/oauth.repo";

/**
 * Credential records as the edge tier keeps them: what the hot path needs to judge a credential
 * without D1 — an API key with its account's plan and state and its profile's permissions, or an
 * OAuth access token with its client, grant, user and account. Each is tagged with every record
 * it was built from, so that a change to any of them invalidates it (`invalidation.ts`):
 *
 * | tag | purged by |
 * |---|---|
 * | `k:<keyId>` | a key's update, revoke, rotation, credits |
 * | `p:<profileId>` | a permission profile's edit or deletion |
 * | `r:<roleId>` | an Unkey role's permissions changed, or the role deleted (`features/unkey`) |
 * | `i:<accountId>:<externalId>` | an Unkey identity made, changed or deleted |
 * | `a:<accountId>` | an account's plan, limits or deletion |
 * | `t:<tokenId>` | an access token's revocation |
 * | `g:<grantId>` | a grant's revocation (a user's, a refresh token's, reuse) |
 * | `c:<clientId>` | an OAuth client disabled, enabled or deleted |
 * | `u:<accountId>:<userId>` | what a user holds, changed (`PUT /v1/oauth-users/:id`) |
 */

export type FoundToken = NonNullable<Awaited<ReturnType<typeof findAccessToken>>>;

export type RecordKind = "keys" | "tokens";

/** The record's address in the edge tier: its kind and the credential's SHA-256. */
export const recordPath = (kind: RecordKind, hash: string) => `/${kind}/${hash}`;

/** `/keys/<hash>` or `/tokens/<hash>`; null for anything else (the entrypoint answers 404). */
export function parseRecordPath(path: string): { kind: RecordKind; hash: string } | null {
  const m = /^\/(keys|tokens)\/([0-9a-f]{64})$/.exec(path);
  return m?.[1] && m[2] ? { kind: m[1] as RecordKind, hash: m[2] } : null;
}

const keyTags = (f: FoundKey) => [
  `k:${f.key.id}`,
  `a:${f.key.accountId}`,
  ...(f.key.profileId ? [`p:${f.key.profileId}`] : []),
  ...(f.key.roles ?? []).map(roleTag),
  ...(f.key.externalId ? [identityTag(f.key.accountId, f.key.externalId)] : []),
];

export const roleTag = (roleId: string) => `r:${roleId}`;

/**
 * What purges the records of many keys of one account: their own tags, or past 100 keys the
 * account's tag — one tag, not thousands drawn from the isolate's purge budget (every record of the
 * account refills once).
 */
export const keysTags = (accountId: string, keyIds: string[]) =>
  keyIds.length > 100 ? [`a:${accountId}`] : keyIds.map((id) => `k:${id}`);
export const identityTag = (accountId: string, externalId: string) => `i:${accountId}:${externalId}`;

function tokenTags(f: FoundToken) {
  const { token, grant } = f;
  return [
    `t:${token.id}`,
    `c:${token.clientId}`,
    `a:${token.accountId}`,
    ...(token.grantId ? [`g:${token.grantId}`] : []),
    ...(grant?.userId ? [`u:${token.accountId}:${grant.userId}`] : []),
    ...(grant?.userProfileId ? [`p:${grant.userProfileId}`] : []),
  ];
}

/** What a fill read from the primary: the record (null: not found, never cached) and its tags. */
export interface Fill {
  body: string | null;
  /**
   * Whether the record may be cached at all: not a key with usage credits, whose count must come
   * from the primary (it spends there, and answers what is left); a change of its credits purges it.
   */
  cache: boolean;
  tags: string[];
  /** Business time the read started: the record is as of no earlier than this. */
  filledAt: number;
  /** Wall-clock milliseconds the read took: a slow fill is not cached (`FILL_WINDOW_MS`). */
  tookMs: number;
}

/**
 * Reads a record from the D1 primary (never a replica, which may lag behind a purge). The only
 * place the edge tier reads D1: a miss in the local stand-in, or the `CredentialRecords`
 * entrypoint behind Workers Cache.
 */
export async function fillRecord(db: Db, kind: RecordKind, hash: string, now: () => number): Promise<Fill> {
  const filledAt = now();
  const started = Date.now();
  if (kind === "keys") {
    const found = await findKeyForAuth(db, hash);
    const tookMs = Date.now() - started;
    return found
      ? {
          body: JSON.stringify(found),
          cache: found.key.creditsRemaining === null,
          tags: keyTags(found),
          filledAt,
          tookMs,
        }
      : { body: null, cache: false, tags: [], filledAt, tookMs };
  }
  const found = await findAccessToken(db, hash);
  const tookMs = Date.now() - started;
  return found
    ? { body: JSON.stringify(found), cache: true, tags: tokenTags(found), filledAt, tookMs }
    : { body: null, cache: false, tags: [], filledAt, tookMs };
}

import type { Db } from "../../db/client";
import type { WebhookRow } from "../../db/schema";
import type { FilterCondition } from "./filter";
import { activeTargets } from "./webhooks.repo";

/** A webhook as a delivery attempt needs it: where to send, how to sign, and its health. */
export type WebhookTarget = Pick<
  WebhookRow,
  | "id"
  | "accountId"
  | "url"
  | "status"
  | "secret"
  | "previousSecret"
  | "previousSecretExpiresAt"
  | "failingSince"
  | "disabledReason"
  | "updatedAt"
>;

/** An active webhook as publishing sees it: what to match on, and what a first attempt signs with. */
export type PublishTarget = WebhookTarget & { events: string[]; filter: FilterCondition[] | null };

/** Bounded: a full cache is emptied rather than grown. */
const CACHE_MAX = 1_000;
const cache = new Map<string, { version: number; targets: PublishTarget[] }>();

/**
 * The account's active webhooks. With `version` (the account's `webhooksVersion`, read by the same
 * D1 query that found the caller's key) this isolate's copy is used while it is current, so a
 * publish reads no webhook rows; any webhook change bumps the version in its own batch, so the
 * next publish anywhere reads them again. Without a version (a user token, the cron, the key cache
 * on): read from D1.
 */
export async function targetsOf(db: Db, accountId: string, version: number | null): Promise<PublishTarget[]> {
  if (version === null) return activeTargets(db, accountId);
  const hit = cache.get(accountId);
  if (hit && hit.version === version) return hit.targets;
  const targets = await activeTargets(db, accountId);
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(accountId, { version, targets });
  return targets;
}

/** Forgets this isolate's copy at once after a change made here (other isolates see the new version). */
export function forgetTargets(accountId: string) {
  cache.delete(accountId);
}

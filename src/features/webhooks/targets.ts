import type { Db } from "../../db/client";
import type { WebhookRow } from "../../db/schema";
import { IsolateMap } from "../../lib/isolate-memory";
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
const cache = new IsolateMap<string, { version: number; targets: PublishTarget[] }>(
  "webhook targets by account",
  1_000,
);

/**
 * The account's active webhooks. With `version` (the account's `webhooksVersion`, read by the same
 * D1 query that found the caller's key) this isolate's copy is used while it is current, so a
 * publish reads no webhook rows; any webhook change bumps the version in its own batch, so the
 * next publish anywhere reads them again. Without a version (a user token, the cron, an edge-cached record
 * on): read from D1.
 */
export async function targetsOf(db: Db, accountId: string, version: number | null): Promise<PublishTarget[]> {
  if (version === null) return activeTargets(db, accountId);
  const hit = cache.get(accountId);
  if (hit && hit.version === version) return hit.targets;
  const targets = await activeTargets(db, accountId);
  cache.set(accountId, { version, targets });
  return targets;
}

/** Forgets this isolate's copy at once after a change made here (other isolates see the new version). */
export function forgetTargets(accountId: string) {
  cache.delete(accountId);
}

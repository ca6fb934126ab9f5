import type { Db } from "../../db/client";
import type { WebhookRow } from "../../db/schema";
import { IsolateMap } from "../../lib/isolate-memory";
import type { FilterCondition } from "./filter";
import { activeTargetsWithVersion } from "./webhooks.repo";

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
  | "headers"
  | "throttle"
  | "timeoutMs"
  | "deliveryFormat"
>;

/** An active webhook as publishing sees it: what to match on, and what a first attempt signs with. */
type PublishTarget = WebhookTarget & { events: string[]; filter: FilterCondition[] | null; channels: string[] | null };

/** What publishing reads of an account, as of one `webhooksVersion`: its targets and the schemas it checks. */
export interface PublishPlanInputs {
  targets: PublishTarget[];
  /** Event types that validate their entity, and their schema (a catalog change bumps the version too). */
  schemas: { name: string; schema: Record<string, unknown> | boolean | null }[];
  version: number | null;
}

/** Bounded: a full cache is emptied rather than grown. */
const cache = new IsolateMap<string, PublishPlanInputs & { version: number }>("webhook targets by account", 1_000);

/**
 * The account's active webhooks and validating schemas, and the `webhooksVersion` they are as of
 * (null: not known).
 *
 * - `version` a number (the account's version, read by the same D1 query that found the caller's
 *   key): this isolate's copy is used while it is that version, else they are read again.
 * - `version` null (a record from the edge cache, a user token, the cron): this isolate's copy is
 *   used provisionally with its own version — the outbox write checks it against the account's, and
 *   a publish whose copy was stale reads them again and writes again (`"fresh"`).
 * - `"fresh"`: read from D1, with the version, whatever this isolate has.
 *
 * Every webhook change bumps the version in its own batch, so a stale copy is always caught.
 */
export async function targetsOf(
  db: Db,
  accountId: string,
  version: number | null | "fresh",
): Promise<PublishPlanInputs> {
  const hit = cache.get(accountId);
  if (hit && version !== "fresh" && (version === null || hit.version === version)) return hit;
  const fresh = await activeTargetsWithVersion(db, accountId);
  if (fresh.version !== null) cache.set(accountId, { ...fresh, version: fresh.version });
  return fresh;
}

/** Forgets this isolate's copy at once after a change made here (other isolates see the new version). */
export function forgetTargets(accountId: string) {
  cache.delete(accountId);
}

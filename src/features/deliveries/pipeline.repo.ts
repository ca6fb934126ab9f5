import type { Db } from "../../db/client";
import { memo } from "../../lib/memo";
import type { SentEvent } from "../events/sent-event";
import type { WebhookTarget } from "../webhooks/targets";
import type { AttemptRecord, Outcome } from "./attempt";

/**
 * The delivery pipeline's statements, one round trip per step whatever the batch size: ids and rows
 * go in as one JSON parameter each and are unpacked by `json_each`, so no statement nears D1's 100
 * bound parameters and a queue batch of 100 is as many statements as a batch of 1. The SQL is
 * written out (not built by Drizzle) and prepared once per isolate: this is the hot path of webhooks.
 * @see https://developers.cloudflare.com/d1/platform/limits/
 */
const SQL = {
  /** A consumer claims the due ones among a batch's deliveries by moving them to the end of a lease. */
  claim: `UPDATE deliveries SET next_attempt_at = ?2, updated_at = ?3
    WHERE id IN (SELECT value FROM json_each(?1)) AND status = 'pending' AND next_attempt_at <= ?4
    RETURNING id, account_id, attempts, slot_at`,
  /** Their events and webhooks, aliased: D1 batch results are keyed by column name. */
  load: `SELECT d.id AS d_id, e.id AS e_id, e.account_id AS e_account_id, e.type AS e_type, e.entity AS e_entity,
      e.created_at AS e_created_at, w.id AS w_id, w.account_id AS w_account_id, w.url AS w_url, w.status AS w_status,
      w.secret AS w_secret, w.previous_secret AS w_previous_secret,
      w.previous_secret_expires_at AS w_previous_secret_expires_at, w.failing_since AS w_failing_since,
      w.disabled_reason AS w_disabled_reason, w.updated_at AS w_updated_at, w.headers AS w_headers,
      w.throttle AS w_throttle, w.timeout_ms AS w_timeout_ms
    FROM deliveries d LEFT JOIN events e ON e.id = d.event_id LEFT JOIN webhooks w ON w.id = d.webhook_id
    WHERE d.id IN (SELECT value FROM json_each(?1)) AND d.status = 'pending'`,
  /**
   * Each delivery's new state, only if no other try of the same number was recorded first and it is
   * still pending (not cancelled while its attempt was in flight).
   */
  updateDeliveries: `UPDATE deliveries SET status = v.status, attempts = v.attempts, next_attempt_at = v.next,
      last_attempt_at = v.at, updated_at = v.at, slot_at = NULL
    FROM (SELECT value ->> 0 AS id, value ->> 1 AS status, value ->> 2 AS attempts, value ->> 3 AS next,
      value ->> 4 AS at FROM json_each(?1)) AS v
    WHERE deliveries.id = v.id AND deliveries.attempts = v.attempts - 1 AND deliveries.status = 'pending'`,
  /**
   * The attempts, except those of a webhook deleted while they were in flight (its history went with
   * it), and without the response body when the event's content was deleted meanwhile.
   */
  insertAttempts: `INSERT INTO attempts (id, account_id, webhook_id, delivery_id, event_id, event_type, attempt, url,
      request_headers, response_status, response_headers, response_body, duration_ms, failure_reason, succeeded, created_at)
    SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7,
      value ->> 8, value ->> 9, value ->> 10,
      CASE WHEN (SELECT e.content_deleted_at FROM events e WHERE e.id = value ->> 4) IS NULL THEN value ->> 11 END,
      value ->> 12, value ->> 13, value ->> 14, value ->> 15
    FROM json_each(?1) WHERE EXISTS (SELECT 1 FROM webhooks w WHERE w.id = value ->> 2)`,
  /** A success ends a failing streak; writes nothing for a webhook that was not failing. */
  webhooksRecovered: `UPDATE webhooks SET failing_since = NULL, last_success_at = ?2
    WHERE id IN (SELECT value FROM json_each(?1)) AND failing_since IS NOT NULL`,
  /**
   * A failure starts a streak (the auto-disable clock); the latest success is then written from the
   * attempts, which until now were where it was read from. Nothing for a webhook already failing.
   */
  webhooksFailing: `UPDATE webhooks SET failing_since = ?2,
      last_success_at = coalesce((SELECT max(a.created_at) FROM attempts a WHERE a.webhook_id = webhooks.id AND a.succeeded = 1), last_success_at)
    WHERE id IN (SELECT value FROM json_each(?1)) AND failing_since IS NULL`,
  /** A health change is a webhook change: the isolates' copies of these accounts' webhooks are stale. */
  bumpVersions: `UPDATE accounts SET webhooks_version = webhooks_version + 1 WHERE id IN (SELECT value FROM json_each(?1))`,
  markFailed: `UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, updated_at = ?2
    WHERE id IN (SELECT value FROM json_each(?1)) AND status = 'pending'`,
} as const;

type Statements = { [K in keyof typeof SQL]: D1PreparedStatement };
const prepared = new WeakMap<D1Database, Statements>();

const statements = (db: Db): Statements =>
  memo(prepared, db.$client, () => {
    const client = db.$client;
    return Object.fromEntries(Object.entries(SQL).map(([name, sql]) => [name, client.prepare(sql)])) as Statements;
  });

export interface Claimed {
  delivery: { id: string; accountId: string; attempts: number; slotAt: number | null };
  event: SentEvent | null;
  webhook: WebhookTarget | null;
}

type LoadRow = Record<string, string | number | null>;

const str = (v: string | number | null | undefined) => (v === null || v === undefined ? null : String(v));
const num = (v: string | number | null | undefined) => (v === null || v === undefined ? null : Number(v));

function toClaimed(delivery: Claimed["delivery"], row: LoadRow | undefined): Claimed {
  const event: SentEvent | null =
    row && row.e_id !== null
      ? {
          id: String(row.e_id),
          accountId: String(row.e_account_id),
          type: String(row.e_type),
          entity: String(row.e_entity),
          createdAt: Number(row.e_created_at),
        }
      : null;
  const webhook: WebhookTarget | null =
    row && row.w_id !== null
      ? {
          id: String(row.w_id),
          accountId: String(row.w_account_id),
          url: String(row.w_url),
          status: String(row.w_status),
          secret: String(row.w_secret),
          previousSecret: str(row.w_previous_secret),
          previousSecretExpiresAt: num(row.w_previous_secret_expires_at),
          failingSince: num(row.w_failing_since),
          disabledReason: str(row.w_disabled_reason),
          updatedAt: Number(row.w_updated_at),
          headers: str(row.w_headers),
          throttle: num(row.w_throttle),
          timeoutMs: num(row.w_timeout_ms),
        }
      : null;
  return { delivery, event, webhook };
}

/**
 * Claims every due delivery among `ids` and loads its event and webhook, in one D1 round trip.
 * A delivery that is finished, not yet due, or leased by another consumer is not claimed (so a
 * duplicate message, or a second consumer given the same batch, never sends it twice); the
 * claim is the UPDATE's own RETURNING, the load only fills in what was claimed.
 */
export async function claimAndLoad(db: Db, ids: string[], now: number, leaseUntil: number, dueBy: number) {
  const s = statements(db);
  const json = JSON.stringify(ids);
  const [claim, load] = await db.$client.batch<Record<string, string | number | null>>([
    s.claim.bind(json, leaseUntil, now, dueBy),
    s.load.bind(json),
  ]);
  const loaded = new Map((load?.results ?? []).map((row) => [String(row.d_id), row]));
  return (claim?.results ?? []).map((r) =>
    toClaimed(
      { id: String(r.id), accountId: String(r.account_id), attempts: Number(r.attempts), slotAt: num(r.slot_at) },
      loaded.get(String(r.id)),
    ),
  );
}

/** D1 strings and rows are capped at 2 MB: a group's JSON is cut well below that. */
const MAX_JSON_CHARS = 900_000;

function chunksOf<T>(items: T[]): string[] {
  const whole = JSON.stringify(items);
  if (whole.length <= MAX_JSON_CHARS) return [whole]; // nearly always: one statement
  const chunks: string[] = [];
  let current: string[] = [];
  let size = 0;
  for (const item of items) {
    const text = JSON.stringify(item);
    if (current.length > 0 && size + text.length > MAX_JSON_CHARS) {
      chunks.push(`[${current.join(",")}]`);
      current = [];
      size = 0;
    }
    current.push(text);
    size += text.length + 1;
  }
  if (current.length > 0) chunks.push(`[${current.join(",")}]`);
  return chunks;
}

/** A delivery's new state as `updateDeliveries` reads it. */
const deliveryRow = (d: Outcome["delivery"]) => [d.id, d.status, d.attempts, d.nextAttemptAt, d.at];

/** An attempt as `insertAttempts` reads it: the columns in the statement's order. */
const attemptRow = (a: AttemptRecord) => [
  a.id,
  a.accountId,
  a.webhookId,
  a.deliveryId,
  a.eventId,
  a.eventType,
  a.attempt,
  a.url,
  a.requestHeaders,
  a.responseStatus,
  a.responseHeaders,
  a.responseBody,
  a.durationMs,
  a.failureReason,
  a.succeeded ? 1 : 0,
  a.createdAt,
];

/**
 * Records a group of finished attempts in one D1 round trip: every delivery's new state, every
 * attempt, and — only where it changes — the health of a webhook (by its latest outcome in the
 * group, against its row as loaded with the job). Answers the accounts whose webhooks' health changed.
 *
 * The row a first attempt has is this isolate's copy, which is exact: a health change bumps the
 * account's `webhooksVersion` like any other webhook change. A success racing a failure elsewhere
 * may leave a streak open; the next success, seeing the new version's row, closes it.
 */
export async function recordOutcomes(db: Db, outcomes: Outcome[], dropped: string[], now: number) {
  const s = statements(db);
  const latest = new Map<string, Outcome>();
  for (const o of outcomes) {
    const seen = latest.get(o.attempt.webhookId);
    if (!seen || seen.attempt.createdAt <= o.attempt.createdAt) latest.set(o.attempt.webhookId, o);
  }
  const changed = [...latest.values()].filter((o) => o.attempt.succeeded === (o.job.webhook.failingSince !== null));
  const recovered = changed.filter((o) => o.attempt.succeeded).map((o) => o.attempt.webhookId);
  const failing = changed.filter((o) => !o.attempt.succeeded).map((o) => o.attempt.webhookId);
  const accounts = [...new Set(changed.map((o) => o.job.webhook.accountId))];
  const batch: D1PreparedStatement[] = [
    ...chunksOf(outcomes.map((o) => deliveryRow(o.delivery))).map((json) => s.updateDeliveries.bind(json)),
    ...chunksOf(outcomes.map((o) => attemptRow(o.attempt))).map((json) => s.insertAttempts.bind(json)),
    ...(recovered.length > 0 ? [s.webhooksRecovered.bind(JSON.stringify(recovered), now)] : []),
    ...(failing.length > 0 ? [s.webhooksFailing.bind(JSON.stringify(failing), now)] : []),
    ...(accounts.length > 0 ? [s.bumpVersions.bind(JSON.stringify(accounts))] : []),
    ...(dropped.length > 0 ? [s.markFailed.bind(JSON.stringify(dropped), now)] : []),
  ];
  if (batch.length > 0) await db.$client.batch(batch);
  return accounts;
}

/** Marks deliveries failed (retryable by hand): their webhook or event is gone, or their messages died. */
export async function markFailed(db: Db, ids: string[], now: number) {
  if (ids.length > 0) await statements(db).markFailed.bind(JSON.stringify(ids), now).run();
}

import type { Db } from "../../db/client";
import type { HistoryEvent } from "./record";

/**
 * Writes an archived event back into D1 as it was — the event, every delivery, every attempt, with
 * their ids — in one batch, so a delivery of it can be retried (the retry path works on D1 rows).
 * Rows already there are left as they are (a recall repeated after a crash). The caller then takes
 * the event out of its object; until then the event log shows the D1 copy.
 */
export async function recallEvent(db: Db, event: HistoryEvent) {
  const d1 = db.$client;
  const deliveries = event.deliveries.map((d) => ({ ...d, tries: undefined }));
  const attempts = event.deliveries.flatMap((d) =>
    d.tries.map((t) => ({ ...t, deliveryId: d.id, webhookId: d.webhookId, eventType: event.type })),
  );
  const statements = [
    d1
      .prepare(
        `INSERT OR IGNORE INTO events (id, account_id, type, entity, idempotency_key, created_at, content_deleted_at)
         VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6)`,
      )
      .bind(
        event.id,
        event.accountId,
        event.type,
        JSON.stringify(event.entity),
        event.createdAt,
        event.contentDeletedAt,
      ),
    d1
      .prepare(
        `INSERT OR IGNORE INTO deliveries
           (id, account_id, event_id, webhook_id, status, attempts, next_attempt_at, last_attempt_at, is_test,
            created_at, updated_at)
         SELECT value->>'id', ?1, ?2, value->>'webhookId', value->>'status', value->>'attempts',
           value->>'nextAttemptAt', value->>'lastAttemptAt', value->>'isTest', value->>'createdAt', value->>'updatedAt'
         FROM json_each(?3)`,
      )
      .bind(event.accountId, event.id, JSON.stringify(deliveries)),
  ];
  for (let i = 0; i < attempts.length; i += 100) {
    statements.push(
      d1
        .prepare(
          `INSERT OR IGNORE INTO attempts
             (id, account_id, webhook_id, delivery_id, event_id, event_type, attempt, url, request_headers,
              request_body, response_status, response_headers, response_body, duration_ms, failure_reason,
              succeeded, created_at)
           SELECT value->>'id', ?1, value->>'webhookId', value->>'deliveryId', ?2, value->>'eventType',
             value->>'attempt', value->>'url', value->'requestHeaders', value->>'requestBody',
             value->>'responseStatus', value->'responseHeaders', value->>'responseBody', value->>'durationMs',
             value->>'failureReason', value->>'succeeded', value->>'createdAt'
           FROM json_each(?3)`,
        )
        .bind(event.accountId, event.id, JSON.stringify(attempts.slice(i, i + 100))),
    );
  }
  await d1.batch(statements);
}

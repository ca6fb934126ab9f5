import type { Db } from "../../db/client";
import { storeEntity } from "./entity-object";
import type { HistoryEvent } from "./record";
import { dueAtOf, fromHistoryEvent } from "./stored-event";

/**
 * Writes an archived event back into D1 as it was — its row with every delivery and attempt, the
 * same ids — so a delivery of it can be retried (the retry path works on D1 rows). A row already
 * there is left as it is (a recall repeated after a crash). The caller then takes the event out of
 * its object; until then the event log shows the D1 copy.
 */
export async function recallEvent(db: Db, bucket: R2Bucket, event: HistoryEvent) {
  const d1 = db.$client;
  const whole = fromHistoryEvent(event);
  // Too large for D1: back in R2 first, as at its publish.
  const row = { ...whole, entity: await storeEntity(bucket, whole.accountId, whole.id, whole.entity) };
  const old = row.deliveries.flatMap((d) => (d.i === undefined ? [] : [d.i]));
  await d1.batch([
    d1
      .prepare(
        `INSERT OR IGNORE INTO events (id, account_id, type, entity, idempotency_key, created_at, content_deleted_at,
           deliveries, attempts, due_at, channels, tags)
         VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, ?8, ?9, ?10, ?11)`,
      )
      .bind(
        row.id,
        row.accountId,
        row.type,
        row.entity,
        row.createdAt,
        row.contentDeletedAt,
        JSON.stringify(row.deliveries),
        JSON.stringify(row.attempts),
        dueAtOf(row.createdAt, row.deliveries),
        row.channels ? JSON.stringify(row.channels) : null,
        row.tags ? JSON.stringify(row.tags) : null,
      ),
    // Deliveries made before their ids named their event are found through these.
    d1
      .prepare("INSERT OR IGNORE INTO delivery_aliases (id, event_id) SELECT value, ?1 FROM json_each(?2)")
      .bind(row.id, JSON.stringify(old)),
  ]);
}

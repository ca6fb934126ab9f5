import type { Db } from "../../db/client";
import { batched } from "../../lib/batched";
import { memo } from "../../lib/memo";
import type { SentEvent } from "../events/sent-event";
import { dueAtOf, type StoredDelivery } from "../history/stored-event";
import { NEXT_IN_FLIGHT_ROWID } from "./delivery-sql";
import { OUTBOX_PATIENCE_MS } from "./timings";

/**
 * The outbox: a published event and one pending delivery per matching webhook, written in one row,
 * before anything is sent. Whatever happens after (the first attempt, the queue, a crash), the
 * deliveries are in D1 and the sweeper finds them: this write is the promise.
 */
const OUTBOX_SQL = {
  /**
   * The event with its deliveries (`stored-event.ts`), due at the end of the first attempts' lease.
   * Not into an account deleted meanwhile (a publish racing its deletion writes nothing), nor when
   * the account's webhooks changed since the publish read them (?7, when given): it reads them again.
   */
  event: `INSERT INTO events (rowid, id, account_id, type, entity, idempotency_key, created_at, deliveries, due_at,
      channels, tags)
    SELECT ${NEXT_IN_FLIGHT_ROWID}, ?1, ?2, ?3, ?4, ?5, ?6, ?8, ?9, ?10, ?11 WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?2 AND deleted_at IS NULL
      AND (?7 IS NULL OR webhooks_version = ?7))`,
  eventType: `INSERT INTO event_types (account_id, name, created_at)
    SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?1 AND deleted_at IS NULL) ON CONFLICT DO NOTHING`,
} as const;

type OutboxStatements = { [K in keyof typeof OUTBOX_SQL]: D1PreparedStatement };
const prepared = new WeakMap<D1Database, OutboxStatements>();

export interface OutboxWrite {
  event: SentEvent & { idempotencyKey: string | null };
  /** Svix's channels and tags, kept with the event (null: none). */
  channels: string[] | null;
  tags: string[] | null;
  /** The webhooks, in the order of the deliveries' ids (`deliveryId(event, index)`). */
  webhookIds: string[];
  /** When a consumer may first claim the deliveries. */
  nextAttemptAt: number;
  isTest: boolean;
  /** Also registers the event's type for the account. */
  registerType: boolean;
  /** The account's `webhooksVersion` the deliveries were planned at (null: not checked). */
  webhooksVersion: number | null;
}

/** One outbox write's statements: the event first (whose changes say whether it was written). */
function outboxStatements(db: Db, w: OutboxWrite): D1PreparedStatement[] {
  const s = memo(prepared, db.$client, () => {
    const client = db.$client;
    return Object.fromEntries(Object.entries(OUTBOX_SQL).map(([k, q]) => [k, client.prepare(q)])) as OutboxStatements;
  });
  const { id, accountId, type, entity, idempotencyKey, createdAt } = w.event;
  const x = w.nextAttemptAt - createdAt;
  const deliveries: StoredDelivery[] = w.webhookIds.map((webhookId) => ({
    w: webhookId,
    s: "pending",
    n: 0,
    x,
    ...(w.isTest ? { t: 1 as const } : {}),
  }));
  return [
    s.event.bind(
      id,
      accountId,
      type,
      entity,
      idempotencyKey,
      createdAt,
      w.webhooksVersion,
      JSON.stringify(deliveries),
      dueAtOf(createdAt, deliveries),
      w.channels && w.channels.length > 0 ? JSON.stringify(w.channels) : null,
      w.tags && w.tags.length > 0 ? JSON.stringify(w.tags) : null,
    ),
    ...(w.registerType ? [s.eventType.bind(accountId, type, createdAt)] : []),
  ];
}

/**
 * Outbox writes of concurrent publishes in one D1 batch (`lib/batched`): a write finding none in
 * flight goes at once; those arriving meanwhile share the next batch. Each answers whether its
 * event was written (false: the account was deleted). A batch is one transaction: it fails
 * whole only if D1 does — a write that can conflict (an idempotency key) goes alone.
 */
const sharedOutbox = batched<Db, OutboxWrite, boolean>(
  async (db, writes) => {
    const firsts: number[] = [];
    const statements: D1PreparedStatement[] = [];
    for (const w of writes) {
      firsts.push(statements.length);
      statements.push(...outboxStatements(db, w));
    }
    const results = await db.$client.batch(statements);
    return firsts.map((i) => (results[i]?.meta.changes ?? 0) > 0);
  },
  { max: 32, patience: OUTBOX_PATIENCE_MS, onAbandon: "fail" },
);

/** Entities larger than this (JSON characters) are written alone: a shared batch stays ≤ 32 × 16 KiB. */
const SHARED_ENTITY_MAX = 16 * 1024;

/**
 * The outbox write, one D1 round trip: the event, every delivery (one statement), and the type's
 * registration when `registerType`. False if nothing was written: the account was deleted.
 * Without an idempotency key, and with an entity of at most 16 KiB, it may share its round trip
 * with other publishes' (`keepAlive`: the invocation's `waitUntil`, so a client going away does not
 * cancel the others' write).
 */
export async function writeOutbox(db: Db, write: OutboxWrite, keepAlive: (run: Promise<unknown>) => void) {
  if (write.event.idempotencyKey === null && write.event.entity.length <= SHARED_ENTITY_MAX) {
    return sharedOutbox(db, write, keepAlive);
  }
  const [written] = await db.$client.batch(outboxStatements(db, write));
  return (written?.meta.changes ?? 0) > 0;
}

/**
 * The format of an event's row (migration 0015): its deliveries and attempts as JSON with short
 * keys, times in milliseconds after the event's creation. Types only; `stored-event.ts` reads and
 * writes them.
 */

export type DeliveryStatus = "pending" | "succeeded" | "failed" | "cancelled";

/** A delivery inside its event's row (`deliveries`, a JSON array; its index names it). */
export interface StoredDelivery {
  /** The webhook. */
  w: string;
  s: DeliveryStatus;
  /** Attempts made. */
  n: number;
  /** Last attempt at. */
  l?: number;
  /** Pending: when it may next be sent (the first attempt's lease, a retry's time, a slot). */
  x?: number;
  /** Pending: a consumer's claim on it lasts until then, with this token. */
  k?: number;
  q?: string;
  /** Pending: the pacer slot it was given. */
  o?: number;
  /** Created at, when not with its event (a replay's). */
  c?: number;
  /** Changed at, when not its last attempt (cancelled, failed by hand, made due again). */
  u?: number;
  /** A test send. */
  t?: 1;
  /** The id of a delivery made before ids named their event (migration 0015). */
  i?: string;
}

/** An attempt inside its event's row (`attempts`, or the packed blob), in the order they ended. */
export interface StoredAttempt {
  i: string;
  /** Its delivery's index. */
  d: number;
  a: number;
  u: string;
  h: Record<string, string>;
  /** Only attempts made before migration 0002 kept the body they sent. */
  b?: string | null;
  s: number | null;
  r: Record<string, string> | null;
  o: string | null;
  m: number;
  f: string | null;
  k: 0 | 1;
  t: number;
  /**
   * Its request headers are stored without those its event and delivery say (rebuilt on read); 2:
   * nor the `svix-*` copies of its `webhook-*` headers.
   */
  z?: 1 | 2;
  /** Its body was the entity alone (the webhook's `raw` delivery format), not the envelope. */
  y?: 1;
}

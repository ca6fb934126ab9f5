import type { SentEvent } from "../events/sent-event";
import type { StoredAttempt, StoredDelivery } from "../history/stored-format";
import type { WebhookTarget } from "../webhooks/targets";

/** What an attempt needs of a delivery (loaded by a consumer's claim, or just written by a publish). */
interface JobDelivery {
  id: string;
  accountId: string;
  /** Attempts made before this one. */
  attempts: number;
  /** The pacer slot it holds, if any. */
  slotAt?: number | null;
}

/** One delivery to attempt: the delivery, the event it carries, the webhook it goes to. */
export interface Job {
  delivery: JobDelivery;
  event: SentEvent;
  webhook: WebhookTarget;
  /**
   * The event's row as it was when this job was made (just published, or claimed): when every
   * delivery of it ends in one group, the outcomes pack the event in the same write, if the row is
   * still at this `rev`.
   */
  snapshot?: EventSnapshot;
}

/** An event's row as a job saw it: its `rev`, its deliveries and the attempts recorded. */
export interface EventSnapshot {
  rev: number;
  deliveries: StoredDelivery[];
  attempts: StoredAttempt[];
}

import type { DeliveryRow } from "../../db/schema";
import type { SentEvent } from "../events/sent-event";
import type { WebhookTarget } from "../webhooks/targets";

/** What an attempt needs of a delivery (loaded by a consumer's claim, or just written by a publish). */
type JobDelivery = Pick<DeliveryRow, "id" | "accountId" | "attempts"> & Partial<Pick<DeliveryRow, "slotAt">>;

/** One delivery to attempt: the delivery, the event it carries, the webhook it goes to. */
export interface Job {
  delivery: JobDelivery;
  event: SentEvent;
  webhook: WebhookTarget;
}

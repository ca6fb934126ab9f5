import { z } from "zod";

/** The queue carries ids, never payloads: the delivery row in D1 is the truth. */
export const DeliveryMessage = z.object({ deliveryId: z.string().min(1).max(100) });
export type DeliveryMessage = z.infer<typeof DeliveryMessage>;

export const QUEUES = { deliveries: "keyhook-deliveries", deadLetters: "keyhook-deliveries-dlq" } as const;

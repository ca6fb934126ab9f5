import { z } from "zod";

/** The queue carries ids, never payloads: the delivery row in D1 is the truth. */
export const DeliveryMessage = z.object({ deliveryId: z.string().min(1).max(100) });
export type DeliveryMessage = z.infer<typeof DeliveryMessage>;

/** `keyhook doctor`'s ping (`GET /v1/deployment/doctor`): the consumer notes that it answered, and acks. */
export const PingMessage = z.object({ ping: z.number() });

export const QUEUES = { deliveries: "keyhook-deliveries", deadLetters: "keyhook-deliveries-dlq" } as const;

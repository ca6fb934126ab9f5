import { z } from "@hono/zod-openapi";
import { Timestamp } from "../../lib/schemas";

export const Attempt = z
  .object({
    id: z.string(),
    deliveryId: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    attempt: z.number().int(),
    url: z.string(),
    requestHeaders: z.record(z.string(), z.string()),
    requestBody: z
      .string()
      .nullable()
      .openapi({ description: "null once the event's content was deleted (by hand or past the retention)" }),
    responseStatus: z.number().int().nullable(),
    responseHeaders: z.record(z.string(), z.string()).nullable(),
    responseBody: z.string().nullable().openapi({ description: "First 4 KiB, never parsed" }),
    durationMs: z.number().int(),
    failureReason: z.string().nullable(),
    succeeded: z.boolean(),
    createdAt: Timestamp,
  })
  .openapi("Attempt");

import { z } from "@hono/zod-openapi";
import { VERIFY_CODES } from "../../lib/errors";
import { Timestamp } from "../../lib/schemas";

export const VerificationsQuery = z.object({
  keyId: z.string().min(1).max(100).optional().openapi({ description: "One key; without it, the account" }),
  granularity: z.enum(["hour", "day"]).default("hour"),
  since: z.iso.datetime({ offset: true }).optional().openapi({ description: "Default: 24 hours (day: 30 days) ago" }),
  until: z.iso.datetime({ offset: true }).optional().openapi({ description: "Default: now" }),
});

const Outcomes = z
  .partialRecord(z.enum(VERIFY_CODES), z.number())
  .openapi({ example: { VALID: 120, RATE_LIMITED: 3 } });

export const Verifications = z
  .object({
    keyId: z.string().nullable(),
    granularity: z.enum(["hour", "day"]),
    since: Timestamp,
    until: Timestamp,
    series: z.array(z.object({ start: Timestamp, total: z.number(), outcomes: Outcomes })),
    totals: z.object({ total: z.number(), outcomes: Outcomes }),
    topKeys: z
      .array(z.object({ keyId: z.string(), name: z.string().nullable(), total: z.number(), valid: z.number() }))
      .nullable()
      .openapi({ description: "Without keyId: the 10 keys with the most verifications" }),
  })
  .openapi("Verifications");

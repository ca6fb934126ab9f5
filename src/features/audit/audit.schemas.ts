import { z } from "@hono/zod-openapi";
import { ActorSchema, PageQuery, Timestamp } from "../../lib/schemas";

const Ref = z.object({ type: z.string(), id: z.string(), name: z.string().nullable() });

const AuditEntry = z
  .object({
    id: z.string(),
    actor: ActorSchema,
    onBehalfOf: z.object({ type: z.literal("user"), id: z.string() }).nullable(),
    action: z.string().openapi({ example: "api_key.created" }),
    target: Ref,
    changes: z.record(z.string(), z.object({ before: z.unknown(), after: z.unknown() })).nullable(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    requestId: z.string().nullable(),
    createdAt: Timestamp,
  })
  .openapi("AuditEntry");

export const AuditQuery = PageQuery.extend({
  actorId: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
  targetId: z.string().max(100).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
});

export const Entries = z.object({ entries: z.array(AuditEntry), nextCursor: z.string().nullable() });

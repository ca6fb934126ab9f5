import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, jsonResponse, security } from "../../lib/openapi-errors";
import { ActorSchema, PageQuery, Timestamp } from "../../lib/schemas";
import { authenticate, requireAccount, requireOperator, requireScope } from "../../middleware/auth";

const Ref = z.object({ type: z.string(), id: z.string(), name: z.string().nullable() });

export const AuditEntry = z
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

const Entries = z.object({ entries: z.array(AuditEntry), nextCursor: z.string().nullable() });

export const list = createRoute({
  method: "get",
  path: "/v1/audit-log",
  operationId: "listAuditLog",
  summary: "List audit log entries",
  tags: ["Audit log"],
  security,
  middleware: [authenticate, requireScope("audit:read"), requireAccount],
  request: { query: AuditQuery },
  responses: {
    200: jsonResponse(Entries, "Newest first"),
    ...errorResponses(400, 404),
  },
});

export const listDeployment = createRoute({
  method: "get",
  path: "/v1/deployment/audit-log",
  operationId: "listDeploymentAuditLog",
  summary:
    "List the changes made outside any account: deployment-wide OAuth clients and dynamic registrations (operator)",
  tags: ["Audit log"],
  security,
  middleware: [authenticate, requireOperator],
  request: { query: AuditQuery },
  responses: {
    200: jsonResponse(Entries, "Newest first"),
    ...errorResponses(400, 403),
  },
});

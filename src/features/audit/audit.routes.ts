import { createRoute } from "@hono/zod-openapi";
import { authenticate, requireAccount, requireOperator, requireScope } from "../../http/middleware/auth";
import { errorResponses, jsonResponse, security } from "../../http/openapi-errors";
import { AuditQuery, Entries } from "./audit.schemas";

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

import { createRoute, z } from "@hono/zod-openapi";
import { authenticate, requireAccount, requireScope } from "../../http/middleware/auth";
import { errorResponses, jsonBody, jsonResponse, security } from "../../http/openapi-errors";
import { IdParams } from "../../lib/schemas";
import { CreatePortalSessionBody, PortalSession } from "./portal.schemas";

const route = <R extends Parameters<typeof createRoute>[0]>(r: R) => createRoute({ tags: ["Portal"], security, ...r });

export const create = route({
  method: "post",
  path: "/v1/portal-sessions",
  operationId: "createPortalSession",
  summary: "Make a single-use link to the customer portal for one account",
  description:
    "The operator names the account (`accountId` or `externalId`); a key with `portal:write` makes sessions for its own account. The link opens once, within 15 minutes, into a session (an HttpOnly cookie) that lasts `expiresIn` and may do only what `capabilities` allow — each of which the caller must hold.",
  middleware: [authenticate, requireScope("portal:write")],
  request: { body: jsonBody(CreatePortalSessionBody) },
  responses: {
    201: jsonResponse(z.object({ portalSession: PortalSession }), "The link to open"),
    ...errorResponses(400, 403, 404, 413, 415),
  },
});

export const revoke = route({
  method: "delete",
  path: "/v1/portal-sessions/{id}",
  operationId: "revokePortalSession",
  summary: "End a portal session (its link, or its next request, is refused)",
  middleware: [authenticate, requireScope("portal:write"), requireAccount],
  request: { params: IdParams },
  responses: {
    200: jsonResponse(z.object({ id: z.string(), revoked: z.literal(true) }), "Ended"),
    ...errorResponses(400, 403, 404),
  },
});

import { createRoute, z } from "@hono/zod-openapi";
import { authenticate, requireAccount, requireOperator, requireScope } from "../../http/middleware/auth";
import { errorResponses, jsonResponse, security } from "../../http/openapi-errors";
import { IdParams } from "../../lib/schemas";
import { DeploymentStorage, EventDetail, EventLogQuery, ExportQuery, LoggedEvent } from "./history.schemas";

const tags = ["Events"];
const reader = [authenticate, requireScope("webhooks:read"), requireAccount];

export const list = createRoute({
  method: "get",
  path: "/v1/events",
  operationId: "listEvents",
  summary: "List events, newest first",
  description:
    "The account's event log: recent events from D1 and older ones from the archive, in one list. A page may be shorter than `limit` when a filter skips much of the history; go on with `nextCursor` until it is null.",
  tags,
  security,
  middleware: reader,
  request: { query: EventLogQuery },
  responses: {
    200: jsonResponse(z.object({ events: z.array(LoggedEvent), nextCursor: z.string().nullable() }), "A page"),
    ...errorResponses(400, 404),
  },
});

export const exportEvents = createRoute({
  method: "get",
  path: "/v1/events/export",
  operationId: "exportEvents",
  summary: "Export events as NDJSON",
  description:
    "Streams the account's history, one event per line in the shape of `GET /v1/events/{id}` (with every delivery and attempt), newest first.",
  tags,
  security,
  middleware: reader,
  request: { query: ExportQuery },
  responses: {
    200: { description: "One JSON event per line", content: { "application/x-ndjson": { schema: z.string() } } },
    ...errorResponses(400, 404),
  },
});

export const get = createRoute({
  method: "get",
  path: "/v1/events/{id}",
  operationId: "getEvent",
  summary: "Get an event with its deliveries and attempts",
  tags,
  security,
  middleware: reader,
  request: { params: IdParams },
  responses: { 200: jsonResponse(z.object({ event: EventDetail }), "The event"), ...errorResponses(404) },
});

export const storage = createRoute({
  method: "get",
  path: "/v1/deployment/storage",
  operationId: "getDeploymentStorage",
  summary: "The deployment's storage: D1's size, the webhook history's share and budget, the archive (operator)",
  tags: ["Deployment"],
  security,
  middleware: [authenticate, requireOperator],
  responses: { 200: jsonResponse(DeploymentStorage, "Sizes"), ...errorResponses(403) },
});

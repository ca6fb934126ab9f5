import { createRoute, z } from "@hono/zod-openapi";
import { authenticate, requireAccount, requireAnyScope, requireScope } from "../../http/middleware/auth";
import { errorResponses, jsonBody, jsonResponse, security } from "../../http/openapi-errors";
import { IdParams } from "../../lib/schemas";
import { DeliverySummary, EventTypeName } from "../events/events.schemas";
import { AttemptsQuery } from "../history/history.schemas";
import { Attempt } from "./deliveries.schemas";

const tags = ["Deliveries"];
const reader = [authenticate, requireScope("webhooks:read"), requireAccount];
const writer = [authenticate, requireScope("webhooks:write"), requireAccount];
/** Sending again what was sent or missed: `events:replay` (a portal session's capability) or `webhooks:write`. */
const replayer = [authenticate, requireAnyScope("events:replay", "webhooks:write"), requireAccount];

export const attemptsList = createRoute({
  method: "get",
  path: "/v1/webhooks/{id}/attempts",
  operationId: "listWebhookAttempts",
  summary: "List a webhook's delivery attempts",
  tags,
  security,
  middleware: reader,
  description:
    "Newest first, from the recent history and the archive alike; filter by outcome, event type and time, and go on with `nextCursor`.",
  request: { params: IdParams, query: AttemptsQuery },
  responses: {
    200: jsonResponse(
      z.object({ attempts: z.array(Attempt), nextCursor: z.string().nullable() }),
      "A page of attempts, newest first",
    ),
    ...errorResponses(400, 404),
  },
});

export const retry = createRoute({
  method: "post",
  path: "/v1/deliveries/{id}/retry",
  operationId: "retryDelivery",
  summary: "Send a delivery again",
  tags,
  security,
  middleware: replayer,
  request: { params: IdParams },
  responses: {
    202: jsonResponse(z.object({ delivery: DeliverySummary }), "Queued again"),
    ...errorResponses(400, 404, 409),
  },
});

export const recover = createRoute({
  method: "post",
  path: "/v1/webhooks/{id}/recover",
  operationId: "recoverWebhook",
  summary: "Re-send failed deliveries since a time",
  tags,
  security,
  middleware: replayer,
  request: { params: IdParams, body: jsonBody(z.strictObject({ since: z.iso.datetime({ offset: true }) })) },
  responses: {
    202: jsonResponse(z.object({ count: z.number().int() }), "Failed deliveries since then, queued again"),
    ...errorResponses(400, 404, 409, 413, 415),
  },
});

const ReplayBody = z.strictObject({
  since: z.iso.datetime({ offset: true }).openapi({ description: "Events published at or after this time" }),
  until: z.iso.datetime({ offset: true }).optional().openapi({ description: "…and before this time (default: now)" }),
});
const Replayed = z.object({
  replayed: z.number().int().openapi({ description: "Events on their way (each once, in order of publication)" }),
  nextSince: z.iso
    .datetime()
    .nullable()
    .openapi({
      description: `The range held more than ${1000} events: replay again from here to go on`,
    }),
});

export const replay = createRoute({
  method: "post",
  path: "/v1/webhooks/{id}/replay",
  operationId: "replayWebhook",
  summary: "Replay what a webhook missed",
  description:
    "Every event of the webhook's types (and filter) published in the range since it was created, that it has not received — none sent to it (published while it was disabled) or failed — is sent now, once, in order of publication, at most 10 a second (or the webhook's throttle). Reaches into the archive. Repeating the same range sends nothing twice.",
  tags,
  security,
  middleware: replayer,
  request: { params: IdParams, body: jsonBody(ReplayBody) },
  responses: { 202: jsonResponse(Replayed, "On their way"), ...errorResponses(400, 404, 409, 413, 415) },
});

export const replayAll = createRoute({
  method: "post",
  path: "/v1/replays",
  operationId: "replayWebhooks",
  summary: "Replay what every active webhook missed",
  description: "The replay of each active webhook of the account over the same range.",
  tags,
  security,
  middleware: replayer,
  request: { body: jsonBody(ReplayBody) },
  responses: {
    202: jsonResponse(
      z.object({ webhooks: z.array(Replayed.extend({ id: z.string() })), replayed: z.number().int() }),
      "On their way",
    ),
    ...errorResponses(400, 413, 415),
  },
});

export const test = createRoute({
  method: "post",
  path: "/v1/webhooks/{id}/test",
  operationId: "sendTestEvent",
  summary: "Send a test event",
  tags,
  security,
  middleware: writer,
  request: {
    params: IdParams,
    body: jsonBody(z.strictObject({ event: EventTypeName.optional() }), false),
  },
  responses: {
    202: jsonResponse(z.object({ delivery: DeliverySummary }), "A synthetic, signed event on its way"),
    ...errorResponses(400, 404, 409, 413, 415),
  },
});

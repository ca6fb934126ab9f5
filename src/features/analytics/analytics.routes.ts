import { createRoute } from "@hono/zod-openapi";
import { authenticate, requireAccount, requireScope } from "../../http/middleware/auth";
import { errorResponses, jsonResponse, security } from "../../http/openapi-errors";
import { Verifications, VerificationsQuery } from "./analytics.schemas";

export const verifications = createRoute({
  method: "get",
  path: "/v1/analytics/verifications",
  operationId: "verificationAnalytics",
  summary: "Verification outcomes over time",
  description:
    "Every verification (a key-authenticated request, `POST /v1/keys/verify`, `KeyhookRpc.verify`) by outcome, per hour (up to 7 days) or per day (up to 90 days). Counts reach D1 within seconds of the request.",
  tags: ["API keys"],
  security,
  middleware: [authenticate, requireScope("keys:read"), requireAccount],
  request: { query: VerificationsQuery },
  responses: { 200: jsonResponse(Verifications, "The series and totals"), ...errorResponses(400, 404) },
});

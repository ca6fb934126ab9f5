import { createRoute } from "@hono/zod-openapi";
import { authenticate, requireScope } from "../../http/middleware/auth";
import { errorResponses, jsonBody, jsonResponse, security } from "../../http/openapi-errors";
import { VerifyBody, VerifyResult, Whoami } from "./auth.schemas";

export const whoami = createRoute({
  method: "get",
  path: "/v1/whoami",
  operationId: "whoami",
  summary: "Who is calling",
  tags: ["Auth"],
  security,
  middleware: [authenticate],
  responses: { 200: jsonResponse(Whoami, "The caller and its effective permissions"), ...errorResponses() },
});

export const verify = createRoute({
  method: "post",
  path: "/v1/keys/verify",
  operationId: "verifyKey",
  tags: ["API keys"],
  summary: "Verify a key for a backend that does not run on Workers",
  security,
  middleware: [authenticate, requireScope("keys:verify")],
  request: { body: jsonBody(VerifyBody) },
  responses: {
    200: jsonResponse(VerifyResult, "The verdict (also for invalid keys: see `code`)"),
    ...errorResponses(400, 413, 415),
  },
});

import { createRoute, z } from "@hono/zod-openapi";
import { authenticate, requireAccount, requireScope } from "../../http/middleware/auth";
import { errorResponses, jsonBody, jsonResponse, security } from "../../http/openapi-errors";
import { IdParams, PageQuery } from "../../lib/schemas";
import {
  AdjustCreditsBody,
  ApiKey,
  CreateKeyBody,
  HourlyUsage,
  KeyEnvelope,
  KeyWithSecret,
  RotateKeyBody,
  UpdateKeyBody,
} from "./keys.schemas";

const tags = ["API keys"];
const reader = [authenticate, requireScope("keys:read"), requireAccount];
const writer = [authenticate, requireScope("keys:write"), requireAccount];

export const create = createRoute({
  method: "post",
  path: "/v1/api-keys",
  operationId: "createApiKey",
  summary: "Create an API key",
  tags,
  security,
  middleware: writer,
  request: { body: jsonBody(CreateKeyBody) },
  responses: { 201: jsonResponse(KeyWithSecret, "The key and its secret"), ...errorResponses(400, 404, 409, 413, 415) },
});

export const list = createRoute({
  method: "get",
  path: "/v1/api-keys",
  operationId: "listApiKeys",
  summary: "List API keys",
  tags,
  security,
  middleware: reader,
  request: { query: PageQuery },
  responses: {
    200: jsonResponse(z.object({ apiKeys: z.array(ApiKey), nextCursor: z.string().nullable() }), "Keys, newest first"),
    ...errorResponses(400, 404),
  },
});

export const get = createRoute({
  method: "get",
  path: "/v1/api-keys/{id}",
  operationId: "getApiKey",
  summary: "Get an API key",
  tags,
  security,
  middleware: reader,
  request: { params: IdParams },
  responses: { 200: jsonResponse(KeyEnvelope, "The key"), ...errorResponses(400, 404) },
});

export const update = createRoute({
  method: "patch",
  path: "/v1/api-keys/{id}",
  operationId: "updateApiKey",
  summary: "Update an API key",
  tags,
  security,
  middleware: writer,
  request: { params: IdParams, body: jsonBody(UpdateKeyBody) },
  responses: { 200: jsonResponse(KeyEnvelope, "The key"), ...errorResponses(400, 404, 413, 415) },
});

export const revoke = createRoute({
  method: "delete",
  path: "/v1/api-keys/{id}",
  operationId: "revokeApiKey",
  summary: "Revoke an API key",
  tags,
  security,
  middleware: writer,
  request: { params: IdParams },
  responses: { 200: jsonResponse(z.object({ success: z.literal(true) }), "Revoked"), ...errorResponses(400, 404) },
});

export const rotate = createRoute({
  method: "post",
  path: "/v1/api-keys/{id}/rotate",
  operationId: "rotateApiKey",
  summary: "Rotate an API key's secret",
  tags,
  security,
  middleware: writer,
  request: { params: IdParams, body: jsonBody(RotateKeyBody, false) },
  responses: { 200: jsonResponse(KeyWithSecret, "The key and its new secret"), ...errorResponses(400, 404, 413, 415) },
});

/**
 * Not `/v1/api-keys/usage`: a static segment beside `/v1/api-keys/{id}` makes Hono give up its
 * RegExpRouter for the slower TrieRouter on every request (a test holds it to the RegExpRouter).
 */
export const usageOfMany = createRoute({
  method: "get",
  path: "/v1/api-key-usage",
  operationId: "listApiKeysUsage",
  summary: "Hourly usage of several API keys",
  tags,
  security,
  middleware: reader,
  request: {
    query: z.object({
      ids: z
        .string()
        .max(100 * 40)
        .transform((s) => s.split(",").filter(Boolean))
        .pipe(z.array(z.string().min(1).max(100)).min(1).max(100))
        .openapi({
          description: "Comma-separated key ids (at most 100): a page of the list",
          example: "key_01…,key_02…",
        }),
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({ keys: z.array(z.object({ keyId: z.string(), usage: HourlyUsage })) }),
      "Each live key of the account among the ids, with its hourly counts (other ids are left out)",
    ),
    ...errorResponses(400, 404),
  },
});

export const usage = createRoute({
  method: "get",
  path: "/v1/api-keys/{id}/usage",
  operationId: "getApiKeyUsage",
  summary: "Hourly usage of an API key",
  tags,
  security,
  middleware: reader,
  request: { params: IdParams },
  responses: {
    200: jsonResponse(
      z.object({
        keyId: z.string(),
        usage: HourlyUsage,
      }),
      "Hourly request counts",
    ),
    ...errorResponses(400, 404),
  },
});

export const adjustCredits = createRoute({
  method: "post",
  path: "/v1/api-keys/{id}/credits",
  operationId: "adjustApiKeyCredits",
  summary: "Set, increase or decrease a key's usage credits",
  description:
    "`set` gives the key exactly `amount` (and credits, if it had none); `increment` and `decrement` change what is left at once, atomically with the requests spending it (never below 0).",
  tags,
  security,
  middleware: writer,
  request: { params: IdParams, body: jsonBody(AdjustCreditsBody) },
  responses: { 200: jsonResponse(KeyEnvelope, "The key"), ...errorResponses(400, 404, 409, 413, 415) },
});

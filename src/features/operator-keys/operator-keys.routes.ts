import { createRoute } from "@hono/zod-openapi";
import { authenticate, requireOperator } from "../../http/middleware/auth";
import { errorResponses, jsonBody, jsonResponse, security } from "../../http/openapi-errors";
import { IdParams, PageQuery } from "../../lib/schemas";
import {
  CreateOperatorKeyBody,
  OperatorKeyEnvelope,
  OperatorKeys,
  UpdateOperatorKeyBody,
  WithSecret,
} from "./operator-keys.schemas";

const route = <R extends Parameters<typeof createRoute>[0]>(r: R) =>
  createRoute({ tags: ["Deployment"], security, middleware: [authenticate, requireOperator], ...r });

export const create = route({
  method: "post",
  path: "/v1/deployment/operator-keys",
  operationId: "createOperatorKey",
  summary: "Create an operator key: the operator's credential, scoped and revocable (the key is shown once)",
  request: { body: jsonBody(CreateOperatorKeyBody) },
  responses: { 201: jsonResponse(WithSecret, "The key and its secret"), ...errorResponses(400, 403, 413, 415) },
});

export const list = route({
  method: "get",
  path: "/v1/deployment/operator-keys",
  operationId: "listOperatorKeys",
  summary: "List the operator keys, revoked ones included (newest first)",
  request: { query: PageQuery },
  responses: { 200: jsonResponse(OperatorKeys, "Operator keys"), ...errorResponses(400, 403) },
});

export const get = route({
  method: "get",
  path: "/v1/deployment/operator-keys/{id}",
  operationId: "getOperatorKey",
  summary: "Get an operator key",
  request: { params: IdParams },
  responses: { 200: jsonResponse(OperatorKeyEnvelope, "The key"), ...errorResponses(400, 403, 404) },
});

export const update = route({
  method: "patch",
  path: "/v1/deployment/operator-keys/{id}",
  operationId: "updateOperatorKey",
  summary: "Rename an operator key or change its scopes (from its next request)",
  request: { params: IdParams, body: jsonBody(UpdateOperatorKeyBody) },
  responses: { 200: jsonResponse(OperatorKeyEnvelope, "The key"), ...errorResponses(400, 403, 404, 409, 413, 415) },
});

export const revoke = route({
  method: "delete",
  path: "/v1/deployment/operator-keys/{id}",
  operationId: "revokeOperatorKey",
  summary: "Revoke an operator key: refused from its next request on (the record stays, marked revoked)",
  request: { params: IdParams },
  responses: { 200: jsonResponse(OperatorKeyEnvelope, "The revoked key"), ...errorResponses(400, 403, 404) },
});

import { createRoute, z } from "@hono/zod-openapi";
import { authenticate, requireAccount, requireOperator, requireScope } from "../../http/middleware/auth";
import { errorResponses, jsonBody, jsonResponse, security } from "../../http/openapi-errors";
import { IdParams, PageQuery } from "../../lib/schemas";
import {
  ClientEnvelope,
  Clients,
  CreateClientBody,
  CreateDeploymentClientBody,
  OAuthGrant,
  UpdateClientBody,
  UserHoldingsBody,
  WithSecret,
} from "./clients.schemas";

const tags = ["OAuth"];
const reader = [authenticate, requireScope("oauth:read"), requireAccount];
const writer = [authenticate, requireScope("oauth:write"), requireAccount];

const route = <R extends Parameters<typeof createRoute>[0]>(r: R) => createRoute({ tags, security, ...r });

export const create = route({
  method: "post",
  path: "/v1/oauth-clients",
  operationId: "createOAuthClient",
  summary: "Register an OAuth client (the secret is shown once)",
  middleware: writer,
  request: { body: jsonBody(CreateClientBody) },
  responses: { 201: jsonResponse(WithSecret, "The client and its secret"), ...errorResponses(400, 404, 413, 415) },
});

export const list = route({
  method: "get",
  path: "/v1/oauth-clients",
  operationId: "listOAuthClients",
  summary: "List the account's OAuth clients",
  middleware: reader,
  request: { query: PageQuery },
  responses: {
    200: jsonResponse(Clients, "Clients"),
    ...errorResponses(400, 404),
  },
});

export const get = route({
  method: "get",
  path: "/v1/oauth-clients/{id}",
  operationId: "getOAuthClient",
  summary: "Get an OAuth client",
  middleware: reader,
  request: { params: IdParams },
  responses: { 200: jsonResponse(ClientEnvelope, "The client"), ...errorResponses(400, 404) },
});

export const update = route({
  method: "patch",
  path: "/v1/oauth-clients/{id}",
  operationId: "updateOAuthClient",
  summary: "Update or disable an OAuth client",
  middleware: writer,
  request: { params: IdParams, body: jsonBody(UpdateClientBody) },
  responses: { 200: jsonResponse(ClientEnvelope, "The client"), ...errorResponses(400, 404, 413, 415) },
});

export const rotate = route({
  method: "post",
  path: "/v1/oauth-clients/{id}/rotate-secret",
  operationId: "rotateOAuthClientSecret",
  summary: "Give a confidential client a new secret (the old one stops at once)",
  middleware: writer,
  request: { params: IdParams },
  responses: { 200: jsonResponse(WithSecret, "The client and its new secret"), ...errorResponses(400, 404, 409) },
});

export const remove = route({
  method: "delete",
  path: "/v1/oauth-clients/{id}",
  operationId: "deleteOAuthClient",
  summary: "Delete an OAuth client, its grants and its tokens",
  middleware: writer,
  request: { params: IdParams },
  responses: { 200: jsonResponse(z.object({ success: z.literal(true) }), "Deleted"), ...errorResponses(400, 404) },
});

export const listGrants = route({
  method: "get",
  path: "/v1/oauth-grants",
  operationId: "listOAuthGrants",
  summary: "Apps users authorized (a user sees their own; oauth:read sees the account's)",
  middleware: [authenticate, requireAccount],
  request: { query: PageQuery.extend({ userId: z.string().min(1).max(200).optional() }) },
  responses: {
    200: jsonResponse(z.object({ grants: z.array(OAuthGrant), nextCursor: z.string().nullable() }), "Grants"),
    ...errorResponses(400, 404),
  },
});

export const revokeGrant = route({
  method: "delete",
  path: "/v1/oauth-grants/{id}",
  operationId: "revokeOAuthGrant",
  summary: "Revoke an authorized app (a user their own; oauth:write any): its tokens stop at once",
  middleware: [authenticate, requireAccount],
  request: { params: IdParams },
  responses: { 200: jsonResponse(z.object({ success: z.literal(true) }), "Revoked"), ...errorResponses(400, 404) },
});

export const putUser = route({
  method: "put",
  path: "/v1/oauth-users/{id}",
  operationId: "setOAuthUserHoldings",
  summary: "Tell Keyhook what a user now holds: their apps' tokens act within it from the next request",
  middleware: writer,
  request: { params: z.object({ id: z.string().min(1).max(200) }), body: jsonBody(UserHoldingsBody) },
  responses: {
    200: jsonResponse(z.object({ grantsUpdated: z.number().int() }), "How many of the user's grants changed"),
    ...errorResponses(400, 404, 413, 415),
  },
});

const operator = [authenticate, requireOperator];

export const createDeployment = route({
  method: "post",
  path: "/v1/deployment/oauth-clients",
  operationId: "createDeploymentOAuthClient",
  summary: "Register a public client any account's users may authorize (operator)",
  middleware: operator,
  request: { body: jsonBody(CreateDeploymentClientBody) },
  responses: {
    201: jsonResponse(ClientEnvelope, "The client (public: no secret)"),
    ...errorResponses(400, 403, 413, 415),
  },
});

export const listDeployment = route({
  method: "get",
  path: "/v1/deployment/oauth-clients",
  operationId: "listDeploymentOAuthClients",
  summary: "List the deployment's clients: the operator's shared ones and dynamic registrations (operator)",
  middleware: operator,
  request: { query: PageQuery },
  responses: { 200: jsonResponse(Clients, "Clients"), ...errorResponses(400, 403) },
});

export const getDeployment = route({
  method: "get",
  path: "/v1/deployment/oauth-clients/{id}",
  operationId: "getDeploymentOAuthClient",
  summary: "Get one of the deployment's clients (operator)",
  middleware: operator,
  request: { params: IdParams },
  responses: { 200: jsonResponse(ClientEnvelope, "The client"), ...errorResponses(400, 403, 404) },
});

export const updateDeployment = route({
  method: "patch",
  path: "/v1/deployment/oauth-clients/{id}",
  operationId: "updateDeploymentOAuthClient",
  summary: "Update or disable one of the deployment's clients (operator)",
  middleware: operator,
  request: { params: IdParams, body: jsonBody(UpdateClientBody) },
  responses: { 200: jsonResponse(ClientEnvelope, "The client"), ...errorResponses(400, 403, 404, 413, 415) },
});

export const removeDeployment = route({
  method: "delete",
  path: "/v1/deployment/oauth-clients/{id}",
  operationId: "deleteDeploymentOAuthClient",
  summary: "Delete one of the deployment's clients with every grant and token, in every account (operator)",
  middleware: operator,
  request: { params: IdParams },
  responses: { 200: jsonResponse(z.object({ success: z.literal(true) }), "Deleted"), ...errorResponses(400, 403, 404) },
});

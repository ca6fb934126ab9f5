import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, jsonBody, jsonResponse, security } from "../../lib/openapi-errors";
import { PERMISSION_PATTERN } from "../../lib/permissions";
import { IdParams, PageQuery, Timestamp } from "../../lib/schemas";
import { authenticate, requireAccount, requireOperator, requireScope } from "../../middleware/auth";

const tags = ["OAuth"];
const reader = [authenticate, requireScope("oauth:read"), requireAccount];
const writer = [authenticate, requireScope("oauth:write"), requireAccount];

const RedirectUris = z
  .array(z.string().max(2000))
  .min(1)
  .max(10)
  .openapi({
    description: "Exact redirect URIs: https, or http to a loopback host (any port)",
    example: ["https://app.example.com/oauth/callback"],
  });

const Scopes = z
  .array(
    z
      .string()
      .regex(PERMISSION_PATTERN, "must be resource:action, resource:* or *")
      .refine((s) => s !== "impersonate", "impersonate is never an app's"),
  )
  .min(1)
  .max(100)
  .openapi({
    description:
      "What it may ask for; no one can allow more than they hold. Never `impersonate`; `*` is granted as Keyhook's permissions but `impersonate`",
    example: ["keys:read"],
  });

export const OAuthClient = z
  .object({
    id: z.string().openapi({ description: "The client_id" }),
    name: z.string(),
    type: z.enum(["confidential", "public"]),
    redirectUris: z.array(z.string()),
    scopes: z.array(z.string()),
    enabled: z.boolean(),
    secretLast4: z.string().nullable().openapi({ description: "Confidential clients: the secret's last 4 characters" }),
    dynamic: z.boolean().openapi({ description: "Registered by itself (RFC 7591), not by an account or the operator" }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("OAuthClient");

export const CreateClientBody = z.strictObject({
  name: z.string().trim().min(1).max(100).openapi({ example: "Zapier" }),
  type: z.enum(["confidential", "public"]).default("confidential").openapi({
    description: "confidential: has a secret, may use client_credentials; public: PKCE only (SPAs, native, CLI)",
  }),
  redirectUris: RedirectUris.optional(),
  scopes: Scopes,
});

export const CreateDeploymentClientBody = z.strictObject({
  name: z.string().trim().min(1).max(100).openapi({ example: "Keyhook for VS Code" }),
  redirectUris: RedirectUris,
  scopes: Scopes,
});

export const UpdateClientBody = z.strictObject({
  name: z.string().trim().min(1).max(100).optional(),
  redirectUris: RedirectUris.optional(),
  scopes: Scopes.optional(),
  enabled: z.boolean().optional().openapi({ description: "false: its tokens are refused from the next request" }),
});

const ClientEnvelope = z.object({ client: OAuthClient });
const Clients = z.object({ clients: z.array(OAuthClient), nextCursor: z.string().nullable() });
const WithSecret = z.object({
  client: OAuthClient,
  clientSecret: z.string().nullable().openapi({ description: "Shown once; null for public clients" }),
});

export const OAuthGrant = z
  .object({
    id: z.string(),
    client: z.object({ id: z.string(), name: z.string() }),
    userId: z.string(),
    userName: z.string(),
    scopes: z.array(z.string()).openapi({ description: "What the user allowed (acting within what they hold)" }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    lastUsedAt: Timestamp.nullable(),
  })
  .openapi("OAuthGrant");

export const UserHoldingsBody = z.strictObject({
  role: z.enum(["admin", "member"]),
  permissions: z.array(z.string().regex(PERMISSION_PATTERN)).max(100).default([]),
  profileId: z.string().min(1).max(100).nullable().default(null),
});

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

import { createRoute, z } from "@hono/zod-openapi";
import { authenticate, requireAccount, requireOperator } from "../../http/middleware/auth";
import { errorResponses, jsonBody, jsonResponse, security } from "../../http/openapi-errors";
import { IdParams, Timestamp } from "../../lib/schemas";
import { Account, AccountEnvelope, CreateAccountBody, ListAccountsQuery, UpdateAccountBody } from "./accounts.schemas";

const middleware = [authenticate, requireOperator];
const tags = ["Accounts"];

export const create = createRoute({
  method: "post",
  path: "/v1/accounts",
  operationId: "createAccount",
  summary: "Create an account",
  tags,
  security,
  middleware,
  request: { body: jsonBody(CreateAccountBody) },
  responses: { 201: jsonResponse(AccountEnvelope, "The account"), ...errorResponses(400, 409, 413, 415) },
});

export const list = createRoute({
  method: "get",
  path: "/v1/accounts",
  operationId: "listAccounts",
  summary: "List accounts",
  tags,
  security,
  middleware,
  request: { query: ListAccountsQuery },
  responses: {
    200: jsonResponse(z.object({ accounts: z.array(Account), nextCursor: z.string().nullable() }), "Accounts"),
    ...errorResponses(400),
  },
});

export const get = createRoute({
  method: "get",
  path: "/v1/accounts/{id}",
  operationId: "getAccount",
  summary: "Get an account",
  tags,
  security,
  middleware,
  request: { params: IdParams },
  responses: { 200: jsonResponse(AccountEnvelope, "The account"), ...errorResponses(404) },
});

export const update = createRoute({
  method: "patch",
  path: "/v1/accounts/{id}",
  operationId: "updateAccount",
  summary: "Change an account's plan or limits",
  tags,
  security,
  middleware,
  request: { params: IdParams, body: jsonBody(UpdateAccountBody) },
  responses: { 200: jsonResponse(AccountEnvelope, "The account"), ...errorResponses(400, 404, 413, 415) },
});

export const remove = createRoute({
  method: "delete",
  path: "/v1/accounts/{id}",
  operationId: "deleteAccount",
  summary: "Delete an account and all its data",
  description:
    "One write ends the account at once: it is no longer found, none of its API keys or user tokens is accepted, its webhooks are deleted and their pending deliveries cancelled. Its keys, rate counters, profiles, events, deliveries, attempts and audit entries are then deleted, in this request as far as it goes and by the cron within minutes after (`complete: false`). What stays is the audit entry `account.deleted`.",
  tags,
  security,
  middleware,
  request: { params: IdParams },
  responses: {
    200: jsonResponse(
      z.object({
        id: z.string(),
        deleted: z.literal(true),
        deletedAt: Timestamp,
        complete: z.boolean().openapi({ description: "false: the cron deletes the rest of its data" }),
      }),
      "Deleted",
    ),
    ...errorResponses(404),
  },
});

/** The caller's own account (for the operator: the one named in X-Account-Id), with its plan's limits. */
export const current = createRoute({
  method: "get",
  path: "/v1/account",
  operationId: "getCurrentAccount",
  summary: "Get the caller's account",
  tags,
  security,
  middleware: [authenticate, requireAccount],
  responses: { 200: jsonResponse(AccountEnvelope, "The caller's account"), ...errorResponses(400, 404) },
});

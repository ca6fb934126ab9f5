import { createRoute, z } from "@hono/zod-openapi";
import { PLAN_NAMES } from "../../lib/config";
import { errorResponses, jsonBody, jsonResponse, security } from "../../lib/openapi-errors";
import { IdParams, PageQuery, Timestamp } from "../../lib/schemas";
import { authenticate, requireAccount, requireOperator } from "../../middleware/auth";

const middleware = [authenticate, requireOperator];
const tags = ["Accounts"];

const limit = z.number().int().min(1).max(1_000_000);
/** Up to a billion an hour (~278,000/s): the old cap of a million was 278/s, below one busy integration. */
export const hourlyLimit = z.number().int().min(1).max(1_000_000_000);

export const Account = z
  .object({
    id: z.string().openapi({ example: "acc_01jd8x0000AbCdEfGhIjKlMn" }),
    name: z.string(),
    externalId: z.string().nullable().openapi({ description: "The host application's own id for this customer" }),
    plan: z.enum(PLAN_NAMES),
    limits: z.object({ apiAccess: z.boolean(), maxActiveKeys: z.number(), rateLimitPerHour: z.number() }),
    overrides: z.object({ maxActiveKeys: z.number().nullable(), rateLimitPerHour: z.number().nullable() }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("Account");

const ExternalId = z.string().trim().min(1).max(200).openapi({ example: "cus_NffrFeUfNV2Hib" });

export const ListAccountsQuery = PageQuery.extend({
  externalId: ExternalId.optional().openapi({ description: "Only the account with this external id" }),
});

export const CreateAccountBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  externalId: ExternalId.optional(),
  plan: z.enum(PLAN_NAMES).default("pro"),
});

export const UpdateAccountBody = z.strictObject({
  name: z.string().trim().min(1).max(100).optional(),
  externalId: ExternalId.nullable().optional(),
  plan: z.enum(PLAN_NAMES).optional(),
  limits: z
    .strictObject({ maxActiveKeys: limit.nullable().optional(), rateLimitPerHour: hourlyLimit.nullable().optional() })
    .optional(),
});

const AccountEnvelope = z.object({ account: Account });

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

import { createRoute, z } from "@hono/zod-openapi";
import { authenticate, requireAccount, requireScope } from "../../http/middleware/auth";
import { errorResponses, jsonBody, jsonResponse, security } from "../../http/openapi-errors";
import { IdParams, PageQuery } from "../../lib/schemas";
import { CreateProfileBody, Profile, ProfileEnvelope, UpdateProfileBody } from "./profiles.schemas";

const tags = ["Permission profiles"];
// Profiles shape what keys may do, so they share the keys permissions.
const reader = [authenticate, requireScope("keys:read"), requireAccount];
const writer = [authenticate, requireScope("keys:write"), requireAccount];

export const create = createRoute({
  method: "post",
  path: "/v1/permission-profiles",
  operationId: "createPermissionProfile",
  summary: "Create a permission profile",
  tags,
  security,
  middleware: writer,
  request: { body: jsonBody(CreateProfileBody) },
  responses: { 201: jsonResponse(ProfileEnvelope, "The profile"), ...errorResponses(400, 404, 413, 415) },
});

export const list = createRoute({
  method: "get",
  path: "/v1/permission-profiles",
  operationId: "listPermissionProfiles",
  summary: "List permission profiles",
  tags,
  security,
  middleware: reader,
  request: { query: PageQuery },
  responses: {
    200: jsonResponse(z.object({ profiles: z.array(Profile), nextCursor: z.string().nullable() }), "Profiles"),
    ...errorResponses(400, 404),
  },
});

export const get = createRoute({
  method: "get",
  path: "/v1/permission-profiles/{id}",
  operationId: "getPermissionProfile",
  summary: "Get a permission profile",
  tags,
  security,
  middleware: reader,
  request: { params: IdParams },
  responses: { 200: jsonResponse(ProfileEnvelope, "The profile"), ...errorResponses(400, 404) },
});

export const update = createRoute({
  method: "patch",
  path: "/v1/permission-profiles/{id}",
  operationId: "updatePermissionProfile",
  summary: "Update a permission profile",
  tags,
  security,
  middleware: writer,
  request: { params: IdParams, body: jsonBody(UpdateProfileBody) },
  responses: { 200: jsonResponse(ProfileEnvelope, "The profile"), ...errorResponses(400, 404, 413, 415) },
});

export const remove = createRoute({
  method: "delete",
  path: "/v1/permission-profiles/{id}",
  operationId: "deletePermissionProfile",
  summary: "Delete a permission profile",
  tags,
  security,
  middleware: writer,
  request: { params: IdParams },
  responses: {
    200: jsonResponse(z.object({ success: z.literal(true) }), "Deleted"),
    ...errorResponses(400, 404, 409),
  },
});

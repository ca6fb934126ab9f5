import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../../lib/create-router";
import { errorResponses, jsonResponse, security } from "../../lib/openapi-errors";
import { authenticate } from "../../middleware/auth";

export const Whoami = z
  .object({
    type: z.enum(["operator", "user", "api_key"]),
    id: z.string(),
    name: z.string(),
    accountId: z.string().nullable(),
    permissions: z.array(z.string()),
    onBehalfOf: z
      .object({ type: z.literal("user"), id: z.string() })
      .nullable()
      .openapi({ description: "The user an impersonating key acts as (X-Act-As)" }),
  })
  .openapi("Whoami");

const whoami = createRoute({
  method: "get",
  path: "/v1/whoami",
  operationId: "whoami",
  summary: "Who is calling",
  tags: ["Auth"],
  security,
  middleware: [authenticate],
  responses: { 200: jsonResponse(Whoami, "The caller and its effective permissions"), ...errorResponses() },
});

export const whoamiRouter = createRouter().openapi(whoami, (c) => {
  const { type, id, name, accountId, permissions, onBehalfOf } = c.var.principal;
  return c.json({ type, id, name, accountId, permissions, onBehalfOf: onBehalfOf ?? null }, 200);
});

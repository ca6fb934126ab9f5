import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../../http/create-router";
import { jsonResponse } from "../../http/openapi-errors";

const health = createRoute({
  method: "get",
  path: "/health",
  operationId: "health",
  summary: "Health check",
  tags: ["Health"],
  security: [],
  responses: { 200: jsonResponse(z.object({ status: z.literal("ok") }), "The Worker is up (no auth, no I/O)") },
});

export const healthRouter = createRouter().openapi(health, (c) => c.json({ status: "ok" as const }, 200));

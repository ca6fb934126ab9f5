import { createRoute, z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../http/context";
import { createRouter } from "../../http/create-router";
import { authenticate, requireOperator } from "../../http/middleware/auth";
import { errorResponses, jsonResponse, security } from "../../http/openapi-errors";
import { constantTimeEqual } from "../../lib/crypto";
import { ApiError } from "../../lib/errors";
import { examine } from "./doctor";

/** The one route answered when the configuration is invalid (the services middleware lets it through). */
export const DOCTOR_PATH = "/v1/deployment/doctor";

/**
 * The operator, as every operator route admits it; when the configuration is invalid (no services:
 * the auth service needs a valid configuration), the operator token compared with the Worker's own
 * `ADMIN_TOKEN` — the doctor must answer then too.
 */
const operator = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get("services")) {
    await authenticate(c, async () => {
      await requireOperator(c, next);
    });
    return;
  }
  const token = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
  const admin = c.env.ADMIN_TOKEN;
  if (!token) throw new ApiError("missing_credentials", "The operator token is required (Authorization: Bearer …)");
  if (!admin || !(await constantTimeEqual(token, admin))) {
    throw new ApiError("invalid_credentials", "Invalid credentials");
  }
  await next();
});

const Check = z
  .object({
    name: z.string().openapi({ example: "migrations" }),
    status: z.enum(["ok", "fail", "pending"]).openapi({
      description: "`pending`: asked, not answered yet (the queue consumer's ping): ask again in a few seconds",
    }),
    detail: z.string().openapi({ example: "16 applied, the latest 0015_events_hold_deliveries.sql" }),
  })
  .openapi("DeploymentCheck");

const doctor = createRoute({
  method: "get",
  path: DOCTOR_PATH,
  operationId: "checkDeployment",
  summary:
    "Checks the deployment as an operator would: configuration, migrations, every binding, the cron, the queue consumer, the edge tier's purges (operator; `keyhook doctor`)",
  tags: ["Deployment"],
  security,
  middleware: [operator],
  responses: {
    200: jsonResponse(
      z.object({ ok: z.boolean(), checks: z.array(Check) }).openapi("DeploymentChecks"),
      "One check per part; `ok` when every one is",
    ),
    ...errorResponses(),
  },
});

export const deploymentRouter = createRouter().openapi(doctor, async (c) => {
  // Unset when the configuration is invalid (the services middleware let this route through).
  const services = c.get("services") as AppEnv["Variables"]["services"] | undefined;
  const checks = await examine({
    env: c.env,
    tier: services?.edge.tier ?? null,
    problems: (c.get("configProblems") as string[] | undefined) ?? null,
    now: Date.now(),
  });
  return c.json({ ok: checks.every((k) => k.status === "ok"), checks }, 200);
});

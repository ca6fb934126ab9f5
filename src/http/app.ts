import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { requestId } from "hono/request-id";
import { compose } from "../compose";
import { ConfigError } from "../config";
import { accountsRouter } from "../features/accounts";
import { analyticsRouter } from "../features/analytics";
import { auditRouter } from "../features/audit";
import { authRouter } from "../features/auth";
import { deliveriesRouter } from "../features/deliveries";
import { DOCTOR_PATH, deploymentRouter } from "../features/deployment";
import { edgeEndpoints } from "../features/edge";
import { eventsRouter } from "../features/events";
import { healthRouter } from "../features/health";
import { historyRouter } from "../features/history";
import { keysRouter } from "../features/keys";
import { mountMcp } from "../features/mcp";
import { oauthClientsRouter, oauthEndpoints } from "../features/oauth";
import { operatorKeysRouter } from "../features/operator-keys";
import { mountPortal, portalRouter } from "../features/portal";
import { profilesRouter } from "../features/profiles";
import { mountSvix } from "../features/svix";
import { mountUnkey } from "../features/unkey";
import { webhooksRouter } from "../features/webhooks";
import { ApiError } from "../lib/errors";
import type { AppEnv } from "./context";
import { jsonDepthLimit } from "./middleware/json-depth";
import { errorResponse, onError } from "./on-error";
import { registerOpenApi } from "./openapi-doc";

const MAX_BODY_BYTES = 64 * 1024;
/** `POST /v1/events`: an entity of up to 1 MiB, and room for the rest of the body. */
const MAX_EVENT_BODY_BYTES = 1024 * 1024 + 16 * 1024;

const anyBody = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: (c) => errorResponse(c, new ApiError("payload_too_large", "Request body is larger than 64 KiB")),
});
const eventBody = bodyLimit({
  maxSize: MAX_EVENT_BODY_BYTES,
  onError: (c) => errorResponse(c, new ApiError("payload_too_large", "Request body is larger than 1 MiB")),
});

/** The composition root, once per request: every handler reaches its service through `c.var.services`. */
const services = createMiddleware<AppEnv>(async (c, next) => {
  const ctx = c.executionCtx;
  let services: ReturnType<typeof compose>;
  try {
    services = compose(c.env, {
      waitUntil: (p) => ctx.waitUntil(p),
      requestId: c.var.requestId,
      exports: "exports" in ctx ? ctx.exports : undefined,
    });
  } catch (err) {
    // A bad setting fails every route (`onError`) but the doctor's, which names it to the operator.
    if (!(err instanceof ConfigError) || c.req.path !== DOCTOR_PATH) throw err;
    c.set("configProblems", err.problems);
    return next();
  }
  c.set("services", services);
  await next();
  // A change whose invalidation was not confirmed in time says so, and by when it reaches everywhere anyway.
  const pending = services.unconfirmedInvalidations;
  if (pending.length > 0) {
    const by = Math.max(...pending.map((p) => p.everywhereBy));
    c.header("Keyhook-Invalidation", `unconfirmed; everywhere-by=${new Date(by).toISOString()}`);
  }
});

/** Route paths (`/v1/api-keys/:id`) as regexes, to tell 405 (known path, other method) from 404. */
function methodsByPath(app: OpenAPIHono<AppEnv>) {
  const byPath = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  for (const { method, path } of app.routes) {
    if (method === "ALL") continue;
    const entry = byPath.get(path) ?? {
      pattern: new RegExp(`^${path.replace(/:[^/]+/g, "[^/]+")}/?$`),
      methods: new Set<string>(),
    };
    entry.methods.add(method);
    byPath.set(path, entry);
  }
  return [...byPath.values()];
}

export function createApp() {
  const app = new OpenAPIHono<AppEnv>();
  app.use(requestId());
  app.use(services);
  // Set before the handler runs, so every response (errors included) is built with them: setting
  // them afterwards would make Hono copy the finished Response once per header.
  app.use(async (c, next) => {
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Cache-Control", "no-store");
    await next();
  });
  app.use("/v1/*", (c, next) =>
    (c.req.method === "POST" && /^\/v1\/events\/?$/.test(c.req.path) ? eventBody : anyBody)(c, next),
  );
  app.use(jsonDepthLimit);

  app.route("/", healthRouter);
  app.route("/", authRouter);
  app.route("/", accountsRouter);
  app.route("/", operatorKeysRouter);
  app.route("/", keysRouter);
  app.route("/", profilesRouter);
  app.route("/", auditRouter);
  app.route("/", analyticsRouter);
  app.route("/", webhooksRouter);
  app.route("/", deliveriesRouter);
  app.route("/", eventsRouter);
  app.route("/", historyRouter);
  app.route("/", deploymentRouter);
  app.route("/", oauthClientsRouter);
  app.route("/", oauthEndpoints);
  app.route("/", edgeEndpoints);
  app.route("/", portalRouter);
  mountMcp(app);
  mountPortal(app);
  mountSvix(app);
  mountUnkey(app);
  registerOpenApi(app);

  const routes = methodsByPath(app);
  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    const allowed = routes.filter((r) => r.pattern.test(path)).flatMap((r) => [...r.methods]);
    if (allowed.length > 0) {
      const allow = [...new Set(allowed)].join(", ");
      throw new ApiError("method_not_allowed", `Method ${c.req.method} is not allowed here; use ${allow}`, undefined, {
        Allow: allow,
      });
    }
    throw new ApiError("not_found", `No route for ${c.req.method} ${path}`);
  });
  app.onError(onError);
  return app;
}

import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppEnv } from "../../http/context";
import { ADMITTED_HEADER, withAdmission } from "../../http/middleware/auth";
import { ApiError } from "../../lib/errors";
import type { PortalAdmission } from "./portal.service";
import { PortalClosed, PortalShell } from "./portal-page";

/** `__Secure-keyhook_portal`: HttpOnly, Secure, SameSite=None and Partitioned (CHIPS), path /portal. */
const COOKIE = "keyhook_portal";
const cookieOf = (c: Context<AppEnv>) => getCookie(c, COOKIE, "secure");

/** The page's own requests carry this header: a form or an image of another site cannot (CSRF). */
const PORTAL_HEADER = "x-keyhook-portal";

type Capability = "webhooks:read" | "webhooks:write" | "events:replay";

/**
 * Every API route the portal reaches, and the capability each needs; anything else is 404 from
 * here. The route then checks its own permission too (the session's capabilities are its
 * permissions), so a route is refused twice over, never allowed by one check alone.
 */
const ROUTES: [method: string, path: RegExp, needs: Capability][] = [
  ["GET", /^\/v1\/webhooks$/, "webhooks:read"],
  ["GET", /^\/v1\/webhooks\/[^/]+$/, "webhooks:read"],
  ["GET", /^\/v1\/webhooks\/[^/]+\/attempts$/, "webhooks:read"],
  ["GET", /^\/v1\/events$/, "webhooks:read"],
  ["GET", /^\/v1\/events\/[^/]+$/, "webhooks:read"],
  ["GET", /^\/v1\/event-types$/, "webhooks:read"],
  ["GET", /^\/v1\/event-types\/[^/]+$/, "webhooks:read"],
  ["GET", /^\/v1\/catalog\/openapi\.json$/, "webhooks:read"],
  ["POST", /^\/v1\/webhooks$/, "webhooks:write"],
  ["PATCH", /^\/v1\/webhooks\/[^/]+$/, "webhooks:write"],
  ["DELETE", /^\/v1\/webhooks\/[^/]+$/, "webhooks:write"],
  ["GET", /^\/v1\/webhooks\/[^/]+\/secret$/, "webhooks:write"],
  ["GET", /^\/v1\/webhooks\/[^/]+\/headers$/, "webhooks:write"],
  ["POST", /^\/v1\/webhooks\/[^/]+\/rotate-secret$/, "webhooks:write"],
  ["POST", /^\/v1\/webhooks\/[^/]+\/test$/, "webhooks:write"],
  ["POST", /^\/v1\/webhooks\/[^/]+\/replay$/, "events:replay"],
  ["POST", /^\/v1\/webhooks\/[^/]+\/recover$/, "events:replay"],
  ["POST", /^\/v1\/replays$/, "events:replay"],
  ["POST", /^\/v1\/deliveries\/[^/]+\/retry$/, "events:replay"],
];

function capabilityFor(method: string, path: string): Capability | null {
  return ROUTES.find(([m, p]) => m === method && p.test(path))?.[2] ?? null;
}

/** The page's CSP: frames only from `PORTAL_FRAME_ANCESTORS`, a logo from there or a data URI. */
function pageHeaders(ancestors: readonly string[]) {
  const from = ancestors.join(" ");
  return {
    "Content-Security-Policy":
      `default-src 'self'; img-src 'self' data: ${from}; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors ${from || "'none'"}; base-uri 'none'; form-action 'self'`.replace(
        "data: ;",
        "data:;",
      ),
    "Referrer-Policy": "no-referrer",
  };
}

async function admitted(c: Context<AppEnv>): Promise<PortalAdmission | null> {
  const secret = cookieOf(c);
  return secret ? c.var.services.portal.admit(secret) : null;
}

/** The portal's API requests: the page's header and a live session, or a JSON error. */
async function session(c: Context<AppEnv>): Promise<PortalAdmission> {
  if (c.req.header(PORTAL_HEADER) !== "1") {
    throw new ApiError("insufficient_scope", `Portal requests carry the ${PORTAL_HEADER} header`);
  }
  const admission = await admitted(c);
  if (!admission) throw new ApiError("invalid_credentials", "The portal session has ended; open a new link");
  return admission;
}

/**
 * The customer portal (docs/portal.md): `/portal/open` exchanges a single-use link for a session
 * cookie, `/portal/` is the page, and `/portal/api/v1/*` runs the page's API calls through the app
 * for the session — only the routes in {@link ROUTES}, each within the session's capabilities.
 */
export function mountPortal(app: OpenAPIHono<AppEnv>) {
  app.use(
    "/portal/api/*",
    bodyLimit({
      maxSize: 64 * 1024,
      onError: () => {
        throw new ApiError("payload_too_large", "Request body is larger than 64 KiB");
      },
    }),
  );

  app.get("/portal/open", async (c) => {
    const headers = pageHeaders(c.var.services.platform.settings.portalFrameAncestors);
    const opened = await c.var.services.portal.open(c.req.query("token") ?? "");
    if (!opened) return c.html(PortalClosed(), 410, headers);
    setCookie(c, COOKIE, opened.secret, {
      prefix: "secure",
      path: "/portal",
      httpOnly: true,
      sameSite: "None",
      partitioned: true,
      maxAge: opened.maxAgeSeconds,
    });
    return c.redirect("/portal/", 303);
  });

  const page = async (c: Context<AppEnv>) => {
    const headers = pageHeaders(c.var.services.platform.settings.portalFrameAncestors);
    if (!(await admitted(c))) return c.html(PortalClosed(), 401, headers);
    return c.html(PortalShell(), 200, headers);
  };
  app.get("/portal", page);
  app.get("/portal/", page);

  app.get("/portal/api/session", async (c) => c.json({ session: (await session(c)).view }, 200));

  app.post("/portal/api/logout", async (c) => {
    await session(c);
    await c.var.services.portal.end(cookieOf(c) ?? "");
    deleteCookie(c, COOKIE, { prefix: "secure", path: "/portal", partitioned: true, sameSite: "None" });
    return c.json({ ended: true }, 200);
  });

  app.all("/portal/api/v1/*", async (c) => {
    const admission = await session(c);
    const url = new URL(c.req.url);
    const path = url.pathname.slice("/portal/api".length);
    const needs = capabilityFor(c.req.method, path);
    if (!needs) throw new ApiError("not_found", `The portal has no ${c.req.method} ${path}`);
    if (!admission.principal.permissions.includes(needs)) {
      throw new ApiError("insufficient_scope", `This portal session may not do this: it lacks ${needs}`, {
        missing: [needs],
      });
    }
    return withAdmission(admission, async (handle) => {
      const headers = new Headers({ [ADMITTED_HEADER]: handle });
      const type = c.req.header("content-type");
      if (type) headers.set("content-type", type);
      const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD";
      const inner = new Request(new URL(`${path}${url.search}`, url), {
        method: c.req.method,
        headers,
        body: hasBody ? await c.req.arrayBuffer() : undefined,
      });
      return app.fetch(inner, c.env, c.executionCtx);
    });
  });
}

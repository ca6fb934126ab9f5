import type { Context, ErrorHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../config";
import { RETRY_AFTER_SECONDS, unavailableOf } from "../lib/dependencies";
import { ApiError, fromHttpException } from "../lib/errors";
import { describe, logger, onceAMinute } from "../lib/log";
import type { AppEnv } from "./context";

/** Renders the one error shape: `{ error: { code, message, details?, requestId } }`. */
export function errorResponse(c: Context<AppEnv>, err: ApiError) {
  // Svix's API (features/svix) answers in Svix's shape, also when the app refused before its router.
  if (c.req.path.startsWith("/api/v1/")) {
    const code = err.status === 401 ? "authentication_failed" : err.code;
    return c.json({ code, detail: err.message }, err.status, err.headers);
  }
  // Unkey's API (features/unkey): `{meta, error: {title, detail, status, type, errors?}}`.
  if (c.req.path.startsWith("/v2/")) return unkeyError(c, err);
  const body = {
    error: {
      code: err.code,
      message: err.message,
      ...(err.details === undefined ? {} : { details: err.details }),
      requestId: c.var.requestId ?? "",
    },
  };
  return c.json(body, err.status, err.headers);
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/**
 * An error as Unkey answers it: `application/json`, but `application/problem+json` for 429 (the
 * client parses a 429 only as that) and when the request asks for it. A validation error lists
 * where (`errors: [{location: "body.<field>", message}]`).
 */
function unkeyError(c: Context<AppEnv>, err: ApiError) {
  const issues = Array.isArray(err.details) ? (err.details as { path?: unknown; message?: unknown }[]) : [];
  const body = {
    meta: { requestId: c.var.requestId ?? "" },
    error: {
      title: TITLES[err.status] ?? "Error",
      detail: err.message,
      status: err.status,
      type: `https://keyhook.dev/docs/errors/${err.code}`,
      ...(err.status === 400
        ? {
            errors: issues.map((i) => ({
              location: `body.${Array.isArray(i.path) ? i.path.join(".") : String(i.path ?? "")}`,
              message: String(i.message ?? err.message),
            })),
          }
        : {}),
    },
  };
  // `identities.deleteIdentity` is the one route whose every error the client parses as problem+json.
  const problem =
    err.status === 429 ||
    c.req.path.endsWith("/identities.deleteIdentity") ||
    (c.req.header("accept") ?? "").includes("application/problem+json");
  return c.body(JSON.stringify(body), err.status, {
    ...err.headers,
    "content-type": problem ? "application/problem+json" : "application/json",
  });
}

/**
 * Known errors become their status. A dependency that failed (D1 down or too slow) is 503
 * `service_unavailable` with `Retry-After`, logged once a minute per isolate and route. Anything
 * else is logged — its name, a redacted first line of its message and its cause, and the route;
 * never a stack trace, request body, credential or hash — and answered with a generic 500 that
 * never echoes the error.
 */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof ApiError) return errorResponse(c, err);
  if (err instanceof HTTPException) return errorResponse(c, fromHttpException(err));
  const log = logger(c.var.requestId ?? null);
  const unavailable = unavailableOf(err);
  if (unavailable) {
    if (onceAMinute(`unavailable ${unavailable.dependency} ${c.req.routePath}`)) {
      log("error", `${unavailable.dependency} unavailable`, {
        route: c.req.routePath,
        error: describe(unavailable.cause),
      });
    }
    return errorResponse(
      c,
      new ApiError("service_unavailable", `${unavailable.dependency} is not answering; try again shortly`, undefined, {
        "Retry-After": String(RETRY_AFTER_SECONDS),
      }),
    );
  }
  if (err instanceof ConfigError) {
    // The deployment's own settings: every bad variable named, on every refused request, so the
    // request id an answer gives always finds the problem in the log.
    log("error", "configuration is invalid", { problems: err.problems });
    return errorResponse(c, new ApiError("internal_error", "Keyhook is misconfigured; the operator's log says how"));
  }
  log("error", "unhandled error", { route: c.req.routePath, error: describe(err) });
  return errorResponse(c, new ApiError("internal_error", "Internal server error"));
};

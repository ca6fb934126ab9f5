import type { Context, ErrorHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../context";
import { ApiError, fromHttpException } from "./errors";

/** Renders the one error shape: `{ error: { code, message, details?, requestId } }`. */
export function errorResponse(c: Context<AppEnv>, err: ApiError) {
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

/** The first line of an error message, capped, with anything shaped like a key or a hash redacted. */
const loggable = (message: string) =>
  message
    .split("\n")[0]!
    .slice(0, 200)
    .replace(/[0-9a-f]{64}|[a-z0-9]+_(live|test)_\w+/gi, "[redacted]");

/**
 * Known errors become their status; anything else is logged — its name, a capped message and the
 * route, never a stack trace, request body, credential or hash — and answered with a generic 500
 * that never echoes the error.
 */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof ApiError) return errorResponse(c, err);
  if (err instanceof HTTPException) return errorResponse(c, fromHttpException(err));
  // A wrapped error (Drizzle's "Failed query: …" around D1's own) is logged with its cause, which
  // says what actually went wrong; only first lines, so bound parameters are never logged.
  const cause = err.cause instanceof Error ? loggable(err.cause.message) : undefined;
  console.error(
    JSON.stringify({
      level: "error",
      requestId: c.var.requestId,
      route: c.req.routePath,
      name: err.name,
      message: loggable(err.message),
      cause,
    }),
  );
  return errorResponse(c, new ApiError("internal_error", "Internal server error"));
};

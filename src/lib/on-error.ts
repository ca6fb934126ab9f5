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

/**
 * Known errors become their status; anything else is logged (name and stack, never a request
 * body or credential) and answered with a generic 500 that never echoes the error's message.
 */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof ApiError) return errorResponse(c, err);
  if (err instanceof HTTPException) return errorResponse(c, fromHttpException(err));
  console.error(JSON.stringify({ level: "error", requestId: c.var.requestId, name: err.name, stack: err.stack }));
  return errorResponse(c, new ApiError("internal_error", "Internal server error"));
};

import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Every error code Keyhook answers with, and the HTTP status it carries. */
export const errorStatus = {
  validation_failed: 400,
  invalid_webhook_url: 400,
  invalid_json: 400,
  missing_account: 400,
  missing_credentials: 401,
  invalid_credentials: 401,
  key_expired: 401,
  key_disabled: 401,
  insufficient_scope: 403,
  plan_no_api_access: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  key_limit_reached: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof errorStatus;

/** The one error type: `throw new ApiError("not_found", "…")`; `app.onError` renders it. */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.status = errorStatus[code];
  }
}

/** Maps Hono's own exceptions (body limit, malformed JSON, media type) onto our codes. */
export function fromHttpException(err: HTTPException): ApiError {
  switch (err.status) {
    case 413:
      return new ApiError("payload_too_large", "Request body is larger than 64 KiB");
    case 415:
      return new ApiError("unsupported_media_type", "Send the request body as application/json");
    case 400:
      return new ApiError("invalid_json", "The request body is not valid JSON");
    case 404:
      return new ApiError("not_found", "Not found");
    default:
      return new ApiError("internal_error", "Internal server error");
  }
}

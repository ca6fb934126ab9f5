import type { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * Every error code Keyhook answers with, and the HTTP status it carries: the one table. The
 * OpenAPI document lists these codes (`Error.code` is an enum of them), the typed client and the
 * CLI take their type from it, and `keyhook/middleware` answers with the same codes.
 */
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
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  usage_exceeded: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof errorStatus;
export const ERROR_CODES = Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]];

/** What a key verification answers (`POST /v1/keys/verify`, `KeyhookRpc.verify`). */
export const VERIFY_CODES = [
  "VALID",
  "NOT_FOUND",
  "MALFORMED",
  "EXPIRED",
  "DISABLED",
  "REVOKED",
  "RATE_LIMITED",
  "USAGE_EXCEEDED",
  "INSUFFICIENT_SCOPE",
  "PLAN_BLOCKED",
] as const;

export type VerifyCode = (typeof VERIFY_CODES)[number];

/**
 * The error a request made with a key gets for each refusal a verification names: the same code
 * and status whether Keyhook answers the request itself or `keyhook/middleware` does for another
 * Worker. Unknown, malformed and revoked keys look alike on purpose.
 */
export const refusalOf: Record<Exclude<VerifyCode, "VALID">, { code: ErrorCode; message: string }> = {
  MALFORMED: { code: "invalid_credentials", message: "Invalid API key" },
  NOT_FOUND: { code: "invalid_credentials", message: "Invalid API key" },
  REVOKED: { code: "invalid_credentials", message: "Invalid API key" },
  EXPIRED: { code: "key_expired", message: "This API key has expired" },
  DISABLED: { code: "key_disabled", message: "This API key is disabled" },
  PLAN_BLOCKED: {
    code: "plan_no_api_access",
    message: "This account's plan does not include API access; upgrade to use API keys",
  },
  RATE_LIMITED: { code: "rate_limited", message: "Rate limit reached for this key" },
  USAGE_EXCEEDED: { code: "usage_exceeded", message: "This API key has no usage credits left" },
  INSUFFICIENT_SCOPE: { code: "insufficient_scope", message: "This API key lacks a permission this route needs" },
};

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

interface Issue {
  path: PropertyKey[];
  message: string;
}

/** Validation failures all become this: 400 `validation_failed` naming each field path. */
export function validationError(issues: readonly Issue[]): ApiError {
  const details = issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
  const summary = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join("; ");
  return new ApiError("validation_failed", `Invalid request: ${summary}`, details);
}

/**
 * A write a unique index may refuse: when D1 says `UNIQUE constraint failed: <columns>`, the
 * error `conflict` makes (a 409 naming the value); any other failure stays what it is.
 */
export async function uniqueWrite<T>(write: Promise<T>, columns: string, conflict: () => ApiError): Promise<T> {
  try {
    return await write;
  } catch (err) {
    const text = `${err instanceof Error ? err.message : ""} ${err instanceof Error && err.cause instanceof Error ? err.cause.message : ""}`;
    if (text.includes(`UNIQUE constraint failed: ${columns}`)) throw conflict();
    throw err;
  }
}

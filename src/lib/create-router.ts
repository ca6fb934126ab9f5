import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../context";
import { ApiError } from "./errors";

interface Issue {
  path: PropertyKey[];
  message: string;
}

/** Validation failures all leave through here, as 400 `validation_failed` naming each field path. */
export function validationError(issues: readonly Issue[]): ApiError {
  const details = issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
  const summary = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join("; ");
  return new ApiError("validation_failed", `Invalid request: ${summary}`, details);
}

/** A feature's router: every route is a `createRoute()` contract validated by its zod schemas. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error.issues);
    },
  });
}

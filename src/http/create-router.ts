import { OpenAPIHono } from "@hono/zod-openapi";
import { validationError } from "../lib/errors";
import type { AppEnv } from "./context";

/** A feature's router: every route is a `createRoute()` contract validated by its zod schemas. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error.issues);
    },
  });
}

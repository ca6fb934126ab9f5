import { createMiddleware } from "hono/factory";
import { textNestsDeeper, tooDeep } from "../../lib/json-depth";
import type { AppEnv } from "../context";

/** A JSON media type (`application/json`, `application/merge-patch+json`, with parameters). */
const JSON_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;

/**
 * Refuses a JSON body that nests deeper than the limit (400 naming it) before anything parses or
 * walks it. The text read here is cached by Hono, so the route's own `json()` reads it again for free.
 */
export const jsonDepthLimit = createMiddleware<AppEnv>(async (c, next) => {
  const type = c.req.header("content-type");
  if (type && JSON_TYPE.test(type) && c.req.method !== "GET" && c.req.method !== "HEAD") {
    if (textNestsDeeper(await c.req.text())) throw tooDeep("body");
  }
  await next();
});

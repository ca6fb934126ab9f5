import { Hono } from "hono";
import type { AppEnv } from "../../http/context";
import { constantTimeEqual } from "../../lib/crypto";
import { ApiError } from "../../lib/errors";

/**
 * `POST /__edge/purge {tags}` (operator token): purges this process's colo cache. Only with
 * `EDGE_CACHE=local`, where a purge service (`EDGE_PURGE_URL`: the geo bench's) fans a purge out to
 * every simulated colo through it; with Workers Cache the platform does that itself. Not in the
 * OpenAPI document: it is plumbing between Keyhook processes, not the API.
 */
export const edgeEndpoints = new Hono<AppEnv>().post("/__edge/purge", async (c) => {
  const { edge, platform } = c.var.services;
  if (edge.tier.mode !== "local") throw new ApiError("not_found", "No local edge cache on this deployment");
  const token = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
  const admin = platform.secrets.adminToken;
  if (!admin || !(await constantTimeEqual(token, admin)))
    throw new ApiError("invalid_credentials", "Invalid credentials");
  const body = (await c.req.json().catch(() => null)) as { tags?: unknown } | null;
  const tags = Array.isArray(body?.tags) ? body.tags.filter((t): t is string => typeof t === "string") : null;
  if (!tags || tags.length === 0 || tags.length > 100) {
    throw new ApiError("validation_failed", "tags: 1 to 100 strings");
  }
  const removed = await platform.edgeColo.get(platform.edgeColo.idFromName("colo")).purge(tags);
  return c.json({ removed });
});

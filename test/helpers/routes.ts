import { createApp } from "../../src/http/app";

export interface RouteInfo {
  method: string;
  path: string;
}

/**
 * Routes another route answers: `GET /v1/events/export` is served by `GET /v1/events/:id` (Hono's
 * RegExpRouter cannot hold both; src/features/history/index.ts).
 */
const SERVED_BY_ANOTHER: RouteInfo[] = [{ method: "GET", path: "/v1/events/export" }];

/** Every route the app serves (middleware entries excluded), straight from the router. */
export function appRoutes(): RouteInfo[] {
  const seen = new Set<string>();
  return createApp()
    .routes.filter((r) => r.method !== "ALL")
    .map((r) => ({ method: r.method, path: r.path }))
    .concat(SERVED_BY_ANOTHER)
    .filter((r) => {
      const k = `${r.method} ${r.path}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
}

export const fillPath = (path: string, id: string) => path.replace(/:[^/]+/g, encodeURIComponent(id));

import type { AppRouteHandler as Handler } from "../../http/context";
import { validationError } from "../../lib/errors";
import type * as routes from "./history.routes";
import { ExportQuery } from "./history.schemas";

export const list: Handler<typeof routes.list> = async (c) => {
  return c.json(await c.var.services.history.list(c.var.accountId, c.req.valid("query")), 200);
};

/** `GET /v1/events/export` (see index.ts): the account's history as NDJSON, streamed. */
function exportEvents(c: Parameters<Handler<typeof routes.get>>[0]) {
  const query = ExportQuery.safeParse(c.req.query());
  if (!query.success) throw validationError(query.error.issues);
  const stream = c.var.services.history.export(c.var.accountId, query.data);
  return c.body(stream, 200, { "content-type": "application/x-ndjson; charset=utf-8" });
}

export const get: Handler<typeof routes.get> = async (c) => {
  const { id } = c.req.valid("param");
  // A stream, not JSON: the route's typed responses describe JSON bodies only.
  if (id === "export") return exportEvents(c) as never;
  return c.json({ event: await c.var.services.history.get(c.var.accountId, id) }, 200);
};

export const storage: Handler<typeof routes.storage> = async (c) => {
  return c.json(await c.var.services.history.storage(), 200);
};

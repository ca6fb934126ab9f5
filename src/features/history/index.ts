import { createRouter } from "../../http/create-router";
import * as handlers from "./history.handlers";
import * as routes from "./history.routes";

/**
 * `GET /v1/events/export` is answered by the `{id}` route (`handlers.get` sends `export` there):
 * Hono's RegExpRouter cannot hold a static segment and a parameter side by side, and one such pair
 * would put every request of the Worker on the slower TrieRouter (test/smoke.test.ts). The export's
 * own route is in the OpenAPI document all the same, with its query and its NDJSON answer.
 */
export const historyRouter = createRouter()
  .openapi(routes.list, handlers.list)
  .openapi(routes.get, handlers.get)
  .openapi(routes.storage, handlers.storage);
// Documented without its middleware (the document describes the operation, not how it runs).
const { middleware: _served, ...exportDoc } = routes.exportEvents;
historyRouter.openAPIRegistry.registerPath(exportDoc);

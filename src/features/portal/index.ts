import { createRouter } from "../../http/create-router";
import * as handlers from "./portal.handlers";
import * as routes from "./portal.routes";

export { mountPortal } from "./portal.endpoints";

export const portalRouter = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.revoke, handlers.revoke);

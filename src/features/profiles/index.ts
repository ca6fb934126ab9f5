import { createRouter } from "../../http/create-router";
import * as handlers from "./profiles.handlers";
import * as routes from "./profiles.routes";

export const profilesRouter = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.get, handlers.get)
  .openapi(routes.update, handlers.update)
  .openapi(routes.remove, handlers.remove);

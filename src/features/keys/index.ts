import { createRouter } from "../../http/create-router";
import * as handlers from "./keys.handlers";
import * as routes from "./keys.routes";

export const keysRouter = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.usageOfMany, handlers.usageOfMany)
  .openapi(routes.get, handlers.get)
  .openapi(routes.update, handlers.update)
  .openapi(routes.revoke, handlers.revoke)
  .openapi(routes.rotate, handlers.rotate)
  .openapi(routes.adjustCredits, handlers.adjustCredits)
  .openapi(routes.usage, handlers.usage);

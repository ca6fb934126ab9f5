import { createRouter } from "../../http/create-router";
import * as handlers from "./operator-keys.handlers";
import * as routes from "./operator-keys.routes";

export const operatorKeysRouter = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.get, handlers.get)
  .openapi(routes.update, handlers.update)
  .openapi(routes.revoke, handlers.revoke);

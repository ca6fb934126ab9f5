import { createRouter } from "../../http/create-router";
import * as handlers from "./accounts.handlers";
import * as routes from "./accounts.routes";

export const accountsRouter = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.get, handlers.get)
  .openapi(routes.update, handlers.update)
  .openapi(routes.remove, handlers.remove)
  .openapi(routes.current, handlers.current);

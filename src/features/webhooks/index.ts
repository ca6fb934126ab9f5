import { createRouter } from "../../http/create-router";
import * as handlers from "./webhooks.handlers";
import * as routes from "./webhooks.routes";

export const webhooksRouter = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.get, handlers.get)
  .openapi(routes.update, handlers.update)
  .openapi(routes.remove, handlers.remove)
  .openapi(routes.secret, handlers.secret)
  .openapi(routes.headers, handlers.headers)
  .openapi(routes.rotateSecret, handlers.rotateSecret);

import { createRouter } from "../../http/create-router";
import * as handlers from "./events.handlers";
import * as routes from "./events.routes";

export const eventsRouter = createRouter()
  .openapi(routes.publish, handlers.publish)
  .openapi(routes.listTypes, handlers.listTypes)
  .openapi(routes.catalogDocument, handlers.catalogDocument)
  .openapi(routes.getType, handlers.getType)
  .openapi(routes.registerType, handlers.registerType)
  .openapi(routes.deleteContent, handlers.deleteContent);

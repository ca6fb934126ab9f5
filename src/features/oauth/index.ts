import { createRouter } from "../../http/create-router";
import * as handlers from "./clients.handlers";
import * as routes from "./clients.routes";

export { oauthEndpoints } from "./oauth.endpoints";

export const oauthClientsRouter = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.get, handlers.get)
  .openapi(routes.update, handlers.update)
  .openapi(routes.rotate, handlers.rotate)
  .openapi(routes.remove, handlers.remove)
  .openapi(routes.listGrants, handlers.listGrants)
  .openapi(routes.revokeGrant, handlers.revokeGrant)
  .openapi(routes.putUser, handlers.putUser)
  .openapi(routes.createDeployment, handlers.createDeployment)
  .openapi(routes.listDeployment, handlers.listDeployment)
  .openapi(routes.getDeployment, handlers.getDeployment)
  .openapi(routes.updateDeployment, handlers.updateDeployment)
  .openapi(routes.removeDeployment, handlers.removeDeployment);

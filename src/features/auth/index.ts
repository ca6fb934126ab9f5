import { createRouter } from "../../http/create-router";
import * as handlers from "./auth.handlers";
import * as routes from "./auth.routes";

export const authRouter = createRouter()
  .openapi(routes.whoami, handlers.whoami)
  .openapi(routes.verify, handlers.verify);

import { createRouter } from "../../http/create-router";
import * as handlers from "./deliveries.handlers";
import * as routes from "./deliveries.routes";

export const deliveriesRouter = createRouter()
  .openapi(routes.attemptsList, handlers.attempts)
  .openapi(routes.retry, handlers.retry)
  .openapi(routes.recover, handlers.recover)
  .openapi(routes.replayAll, handlers.replayAll)
  .openapi(routes.replay, handlers.replay)
  .openapi(routes.test, handlers.test);

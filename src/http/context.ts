import type { RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { Services } from "../compose";
import type { Principal } from "../lib/principal";

/** Variables set by middleware: `requestId` and `services` on every request; the rest after auth. */
interface AppVariables {
  requestId: string;
  /** Every service, built for this request by the composition root (`compose`). */
  services: Services;
  principal: Principal;
  /** The account a tenant-scoped route acts in (set by `requireAccount`). */
  accountId: string;
  /** Its `webhooksVersion`, when authentication read the account row anyway (keys, the operator). */
  webhooksVersion: number | null;
  /** The configuration's problems, on the one route answered without services (`keyhook doctor`'s). */
  configProblems: string[];
}

export type AppEnv = { Bindings: Env; Variables: AppVariables };

/** A handler typed by its `createRoute()` contract. */
export type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppEnv>;

/**
 * `npm run bench:geo`: one simulated colo — Keyhook as it is, but its `DB` is the remote primary
 * (remote-d1.ts) after an injected round trip. Each colo is its own `wrangler dev` process, so it
 * has its own isolates and its own edge cache (the ColoCache Durable Object under its own state).
 * `POST /__geo/delay?ms=` sets the round trip.
 */
import keyhook from "../../src/index";
import { RemoteD1 } from "./remote-d1";

export { ColoCache, CredentialRecords, KeyhookRpc } from "../../src/index";

type GeoEnv = Env & { GEO_PRIMARY_URL: string };

let delayMs = 0;
const wrapped = new WeakMap<object, Env>();

/** The same wrapped env for the same env object: Keyhook memoizes its settings and statements by it. */
function viaPrimary(env: GeoEnv): Env {
  let w = wrapped.get(env);
  if (!w) {
    w = { ...env, DB: new RemoteD1(env.GEO_PRIMARY_URL, () => delayMs) as unknown as D1Database };
    wrapped.set(env, w);
  }
  return w;
}

export default {
  async fetch(req: Request, env: GeoEnv, ctx: ExecutionContext) {
    const url = new URL(req.url);
    if (url.pathname === "/__geo/delay") {
      delayMs = Number(url.searchParams.get("ms") ?? 0);
      return Response.json({ delayMs });
    }
    return keyhook.fetch(req, viaPrimary(env), ctx);
  },
  queue: (batch: MessageBatch<unknown>, env: GeoEnv, ctx: ExecutionContext) =>
    keyhook.queue(batch, viaPrimary(env), ctx),
  scheduled: (controller: ScheduledController, env: GeoEnv, ctx: ExecutionContext) =>
    keyhook.scheduled(controller, viaPrimary(env), ctx),
} satisfies ExportedHandler<GeoEnv>;

/**
 * The rate-limit floor: `GET /limit?id=<identifier>` takes one use from Keyhook's own
 * `NamedLimiter` (a SQLite-backed Durable Object per identifier), as `POST /v2/ratelimit.limit`
 * must; `GET /noop` answers at once. Their difference is what a limited request costs at least on
 * these primitives, beside which `bench/ratelimit.mjs` sets what Keyhook adds.
 */
import { NamedLimiter } from "../../src/features/ratelimit/named-limiter";

export { NamedLimiter };

interface FloorEnv {
  LIMITER: DurableObjectNamespace<NamedLimiter>;
}

export default {
  async fetch(req: Request, env: FloorEnv): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/limit") {
      const id = url.searchParams.get("id") ?? "id";
      const answer = await env.LIMITER.get(env.LIMITER.idFromName(id)).limit(Date.now(), 1_000_000, 60_000, 1);
      return Response.json(answer);
    }
    return new Response("ok");
  },
};

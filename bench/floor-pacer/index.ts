/**
 * The pacer floor: `GET /take?w=<prefix>&n=<count>` takes one send slot from each of `n` webhooks'
 * pacers at once — Keyhook's own `EndpointPacer`, one SQLite read and one write in a Durable
 * Object — as an event to `n` throttled endpoints must; `GET /noop` answers at once. Their
 * difference is what the slots cost at least on these primitives, beside which `bench/pacer.mjs`
 * sets what a throttle costs a delivery in Keyhook.
 */
import { EndpointPacer } from "../../src/features/deliveries/pacer";

export { EndpointPacer };

interface FloorEnv {
  PACER: DurableObjectNamespace<EndpointPacer>;
}

export default {
  async fetch(req: Request, env: FloorEnv): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/take") {
      const w = url.searchParams.get("w") ?? "w";
      const n = Number(url.searchParams.get("n") ?? 1);
      const slots = await Promise.all(
        Array.from({ length: n }, (_, i) => env.PACER.get(env.PACER.idFromName(`${w}${i}`)).take(Date.now(), 1, 1)),
      );
      return Response.json({ slots: slots.flat() });
    }
    return new Response("ok");
  },
};

import { env } from "cloudflare:workers";
import { countBindings, newCounts } from "../../src/lib/op-count";

/**
 * The real bindings, wrapped to count what a request costs — the same wrappers `COUNT_OPS` puts
 * on a running Keyhook: every D1 statement run (statements in a batch included), every batch,
 * and every KV get / list / put.
 */
export function countingEnv() {
  const counts = newCounts();
  const reset = () => Object.assign(counts, newCounts());
  return { env: countBindings(env, counts), counts, reset };
}

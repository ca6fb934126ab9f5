/**
 * Many callers' work done together, without making anyone wait for company: a caller who finds
 * nothing in flight starts at once; callers who arrive while a run is in flight are served
 * together by the next run. The next run is started by one of the callers waiting for it, in its
 * own request's context — never on behalf of a request that may have ended. One group per `key`
 * (e.g. per D1 binding); at most `max` inputs per run.
 *
 * Used for the D1 round trips many concurrent requests of an isolate make alike: key lookups (one
 * query for every request that arrived while the last one ran) and delivery outcomes (one batch
 * for every run that finished meanwhile). Under load the round trips per request fall; at a light
 * load nothing changes.
 */
export function batched<K extends object, In, Out>(
  run: (key: K, inputs: In[]) => Promise<Out[]>,
  max = Number.POSITIVE_INFINITY,
): (key: K, input: In) => Promise<Out> {
  interface Entry {
    input: In;
    settled: { ok: true; value: Out } | { ok: false; err: unknown } | null;
  }
  const states = new WeakMap<K, { waiting: Entry[]; inFlight: Promise<void> | null }>();
  return async (key, input) => {
    let state = states.get(key);
    if (!state) {
      state = { waiting: [], inFlight: null };
      states.set(key, state);
    }
    const mine: Entry = { input, settled: null };
    state.waiting.push(mine);
    while (!mine.settled) {
      while (state.inFlight) await state.inFlight;
      if (mine.settled) break;
      const group = state.waiting.splice(0, max);
      state.inFlight = (async () => {
        try {
          const outs = await run(
            key,
            group.map((e) => e.input),
          );
          group.forEach((e, i) => {
            e.settled = { ok: true, value: outs[i]! };
          });
        } catch (err) {
          for (const e of group) e.settled = { ok: false, err };
        }
      })();
      await state.inFlight;
      state.inFlight = null;
    }
    const settled = mine.settled;
    if (!settled.ok) throw settled.err;
    return settled.value;
  };
}

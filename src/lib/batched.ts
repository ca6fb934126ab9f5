/**
 * Many callers' work done together, without making anyone wait for company: a caller who finds
 * nothing in flight starts at once; callers who arrive while a run is in flight are served
 * together by the next run, which one of them starts in its own request's context. One group per
 * `key` (e.g. per D1 binding); at most `max` inputs per run.
 *
 * Used for the D1 round trips many concurrent requests of an isolate make alike: key lookups (one
 * query for every request that arrived while the last one ran) and delivery outcomes (one batch
 * for every run that finished meanwhile). Under load the round trips per request fall; at a light
 * load nothing changes.
 *
 * A run is I/O of the request that started it. The runtime cancels a request whose client went
 * away, and with it that I/O: a run can then never end. Everyone waiting on it would wait forever,
 * so with `patience` a caller that has waited that long abandons the run, and the next callers
 * start a new one. What the caller then does is `onAbandon`'s: `"alone"` does its own work by
 * itself (work that may be done twice: reads), `"fail"` fails it (writes: the caller retries later).
 *
 * A caller may hand over `keepAlive` (its invocation's `waitUntil`): a run it starts is then kept
 * alive past its own client going away, and the others in the run are not left waiting for nothing.
 *
 * `linger` (work whose callers are not waiting to answer a client: delivery outcomes) spaces runs
 * out: a run that would start less than `linger` ms after the previous one started waits out the
 * rest of that time first, and takes everyone who arrived meanwhile. Runs then happen at most every
 * `linger` ms under load, with as many inputs each as arrived; at a light load none waits.
 */
export function batched<K extends object, In, Out>(
  run: (key: K, inputs: In[]) => Promise<Out[]>,
  {
    max = Number.POSITIVE_INFINITY,
    patience,
    onAbandon = "fail",
    linger = 0,
  }: { max?: number; patience?: number; onAbandon?: "alone" | "fail"; linger?: number } = {},
): (key: K, input: In, keepAlive?: (run: Promise<unknown>) => void) => Promise<Out> {
  interface Entry {
    input: In;
    settled: { ok: true; value: Out } | { ok: false; err: unknown } | null;
  }
  interface State {
    waiting: Entry[];
    inFlight: Promise<void> | null;
    /** When the last run took its group (with `linger`). */
    lastStart: number;
  }
  const states = new WeakMap<K, State>();

  /** One run for everything waiting; it settles every entry it took and clears `inFlight` itself. */
  function start(key: K, state: State, keepAlive?: (run: Promise<unknown>) => void) {
    const now = Date.now();
    const wait = linger > 0 ? state.lastStart + linger - now : 0;
    state.lastStart = now + Math.max(wait, 0);
    let group: Entry[] = [];
    let flight: Promise<void> | undefined;
    flight = (async () => {
      try {
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        group = state.waiting.splice(0, max);
        const outs = await run(
          key,
          group.map((e) => e.input),
        );
        group.forEach((e, i) => {
          e.settled ??= { ok: true, value: outs[i] as Out };
        });
      } catch (err) {
        for (const e of group) e.settled ??= { ok: false, err };
      } finally {
        if (state.inFlight === flight) state.inFlight = null;
      }
    })();
    state.inFlight = flight;
    keepAlive?.(flight);
  }

  /** Waits for a run; false if `patience` ran out first. */
  async function waitFor(flight: Promise<void>): Promise<boolean> {
    const limit = patience;
    if (limit === undefined) {
      await flight;
      return true;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), limit);
    });
    const ended = await Promise.race([flight.then(() => true), gaveUp]);
    if (timer !== undefined) clearTimeout(timer);
    return ended;
  }

  return async (key, input, keepAlive) => {
    let state = states.get(key);
    if (!state) {
      state = { waiting: [], inFlight: null, lastStart: Number.NEGATIVE_INFINITY };
      states.set(key, state);
    }
    const mine: Entry = { input, settled: null };
    state.waiting.push(mine);
    while (!mine.settled) {
      const flight = state.inFlight;
      if (!flight) {
        start(key, state, keepAlive);
        continue;
      }
      if (await waitFor(flight)) continue;
      // Abandoned: the run may belong to a cancelled request.
      if (state.inFlight === flight) state.inFlight = null;
      const queued = state.waiting.indexOf(mine);
      if (queued >= 0) state.waiting.splice(queued, 1);
      if (onAbandon === "fail") {
        mine.settled ??= { ok: false, err: new Error(`a shared run did not end within ${patience} ms`) };
        continue;
      }
      try {
        mine.settled = { ok: true, value: (await run(key, [input]))[0] as Out };
      } catch (err) {
        mine.settled = { ok: false, err };
      }
    }
    const settled = mine.settled;
    if (!settled.ok) throw settled.err;
    return settled.value;
  };
}

import { describe, expect, it } from "vitest";
import { batched } from "../src/lib/batched";

describe("batched: concurrent callers' work done together", () => {
  it("the first caller runs at once; callers who arrive while it runs share the next run", async () => {
    const runs: number[][] = [];
    const double = batched<object, number, number>(async (_key, xs) => {
      runs.push(xs);
      await new Promise((r) => setTimeout(r, 10));
      return xs.map((x) => x * 2);
    });
    const key = {};
    expect(await Promise.all([1, 2, 3, 4].map((x) => double(key, x)))).toEqual([2, 4, 6, 8]);
    expect(runs).toEqual([[1], [2, 3, 4]]);
    expect(await double(key, 5)).toBe(10); // nothing in flight: at once, alone
    expect(runs.at(-1)).toEqual([5]);
  });

  it("a failed run fails every caller in it, and the next run starts afresh", async () => {
    let fail = true;
    const get = batched<object, number, number>(async (_key, xs) => {
      if (fail) throw new Error("D1 went away");
      return xs;
    });
    const key = {};
    const settled = await Promise.allSettled([1, 2, 3].map((x) => get(key, x)));
    expect(settled.map((s) => s.status)).toEqual(["rejected", "rejected", "rejected"]);
    fail = false;
    expect(await get(key, 7)).toBe(7);
  });

  it("with patience, a run that never ends (its request cancelled) is abandoned: each caller then works alone", async () => {
    let calls = 0;
    const get = batched<object, number, number>(
      async (_key, xs) => {
        calls += 1;
        if (calls === 1) return new Promise<number[]>(() => {}); // its I/O went with its request
        return xs.map((x) => x * 2);
      },
      { patience: 50, onAbandon: "alone" },
    );
    const key = {};
    expect(await Promise.all([1, 2, 3].map((x) => get(key, x)))).toEqual([2, 4, 6]);
    expect(await get(key, 5)).toBe(10); // the abandoned run no longer holds anyone back
  });

  it("with linger, a run right after another waits out the rest and takes everyone who arrived; a spaced-out caller does not wait", async () => {
    const runs: number[][] = [];
    const echo = batched<object, number, number>(
      async (_key, xs) => {
        runs.push(xs);
        return xs;
      },
      { linger: 40 },
    );
    const key = {};
    const first = echo(key, 1);
    expect(runs).toEqual([[1]]); // nothing before it: started at once
    expect(await first).toBe(1);
    const second = echo(key, 2);
    expect(runs).toHaveLength(1); // within 40 ms of the last start: it waits
    await new Promise((r) => setTimeout(r, 10));
    const third = echo(key, 3);
    expect(await Promise.all([second, third])).toEqual([2, 3]);
    expect(runs).toEqual([[1], [2, 3]]); // the one who arrived meanwhile rode along
    await new Promise((r) => setTimeout(r, 60));
    const spaced = echo(key, 4);
    expect(runs.at(-1)).toEqual([4]); // more than 40 ms since the last start: at once
    expect(await spaced).toBe(4);
  });

  it("keepAlive: the caller who starts a run hands it to its invocation's waitUntil; those who ride along do not", async () => {
    const kept: Promise<unknown>[][] = [[], [], []];
    const echo = batched<object, number, number>(async (_key, xs) => xs);
    const key = {};
    await Promise.all([0, 1, 2].map((i) => echo(key, i, (run) => kept[i]!.push(run))));
    expect(kept.map((k) => k.length)).toEqual([1, 1, 0]); // 0 ran alone; 1 started the run 2 rode in
  });
});

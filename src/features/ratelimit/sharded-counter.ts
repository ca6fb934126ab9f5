import { DependencyUnavailable } from "../../lib/dependencies";
import { randomBase62 } from "../../lib/encoding";
import { IsolateMap, IsolateSet } from "../../lib/isolate-memory";
import { describe, type Log, logger, onceAMinute } from "../../lib/log";

/**
 * A fixed-window counter in Workers KV, built for KV's rules: at most one write per second per
 * KV key, no compare-and-set, reads up to ~60 s stale between locations, TTL ≥ 60 s.
 *
 * - **Single-writer shards.** Each isolate counts in memory and writes only its own KV key,
 *   `<ns>:<id>:<windowStart>:<shard>`, with its running total in the key's metadata. No two
 *   writers share a key, so no increment is lost to last-write-wins.
 * - **Coalesced writes.** Increments are flushed with `waitUntil`, at most once per second per
 *   shard key.
 * - **Summed on read.** The other shards' totals come from one `list()` of the window's prefix
 *   (metadata carries the counts, so no `get` per shard), refreshed at most every
 *   `REFRESH_MS` per isolate and id, in the background after the first time. Between refreshes
 *   admission is decided in memory. A window at its limit is not refreshed (counts only grow).
 * - **A KV budget per isolate.** Every write and list is paid from the isolate's credit, which
 *   each counted request adds `KV_OPS_PER_HIT` (0.19) to (at most `MAX_CREDIT` banked): whatever
 *   the pattern — one key used every 15 s, thousands used once an hour — the counter costs at
 *   most one KV write or list per five requests (docs/COST.md). When the credit is short, a
 *   window's first list waits for it (the other shards count as 0 until then) and a window that
 *   wants both takes turns between its refresh and its flush. A window's own shard is written
 *   only once it has been read (a window evicted and seen again adopts its stored total first).
 * - **Self-expiring.** Every shard key carries an `expirationTtl` covering the retention span.
 *
 * The check-and-increment runs synchronously after the (shared) refresh, so within one isolate
 * it is exact under concurrency; on one machine (`wrangler dev`) there is one isolate.
 * @see https://developers.cloudflare.com/kv/platform/limits/
 */
export const REFRESH_MS = 10_000;
const FLUSH_INTERVAL_MS = 1_000;
/**
 * KV operations (writes and lists) a counted request pays for, at most, on average: with a new
 * isolate's `INITIAL_CREDIT`, at most 0.2 a request once it has counted 800.
 */
export const KV_OPS_PER_HIT = 0.19;
/** Credit an isolate banks at most: a quiet spell after a busy one spends no more than this at once. */
const MAX_CREDIT = 20;
/** Credit kept for windows near their limit, where a stale count matters: the others spend above it. */
const RESERVE = 3;
/** A new isolate's credit: it reads its first windows at once. */
const INITIAL_CREDIT = RESERVE + 1;
/** Windows this isolate keeps in memory (about 200 bytes each); see `evict`. */
let maxTracked = 20_000;

interface WindowState {
  local: number;
  /** What this isolate's shard key holds (the last flush written, or the total adopted). */
  flushed: number;
  others: number;
  othersAt: number;
  refreshing: Promise<void> | null;
  flushPending: boolean;
  lastFlushAt: number;
  /** The operation this window spent credit on last, so a short budget alternates them. */
  last: "refresh" | "flush" | null;
  /** Near its limit (`isNear`): it may spend the reserve. */
  near: boolean;
}

/**
 * A window whose count is within a quarter of its limit (at least 20) of it: what the other shards
 * counted since the last read could tip it, so its refreshes and flushes come before the others'.
 */
const isNear = (s: WindowState, limit: number) => limit - (s.local + s.others) <= Math.max(20, Math.ceil(limit / 4));

/**
 * What one isolate holds for its counters: its shard id (a new isolate is a new writer), its
 * windows, the ids it forgot, and its KV credit. The Worker has one (`thisIsolate`); a test makes
 * several to stand for isolates in other locations.
 */
export class CounterIsolate {
  credit = INITIAL_CREDIT;
  #shard: string | undefined;
  constructor(
    readonly states: Map<string, WindowState> = new Map(),
    readonly forgotten: Set<string> = new Set(),
    /** Waits before a flush (coalescing): a test may run without waiting. */
    readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** Lazy: no randomness in global scope. */
  get shard() {
    this.#shard ??= randomBase62(12);
    return this.#shard;
  }

  earn() {
    this.credit = Math.min(MAX_CREDIT, this.credit + KV_OPS_PER_HIT);
  }

  /** Takes one operation's credit, if there is one. */
  spend() {
    if (this.credit < 1) return false;
    this.credit -= 1;
    return true;
  }
}

let isolate: CounterIsolate | undefined;
/** This isolate's counters' memory (bounded: `evict`, `IsolateSet`). */
const thisIsolate = () =>
  (isolate ??= new CounterIsolate(
    // Bounded to `maxTracked` by `evict` (finished windows first), which needs the current window.
    new IsolateMap<string, WindowState>("rate counter windows", Number.POSITIVE_INFINITY),
    // Ids whose counts were deleted (`forget`): a flush already scheduled for one writes nothing.
    new IsolateSet<string>("rate counters forgotten", 20_000),
  ));

/** For tests: how many windows this isolate holds, a lower bound to reach it quickly, its credit. */
export const tracking = {
  size: () => thisIsolate().states.size,
  fund: (credit = MAX_CREDIT) => {
    thisIsolate().credit = credit;
  },
  setMax: (n: number) => {
    maxTracked = n;
  },
};

export interface Hit {
  allowed: boolean;
  limit: number;
  /** Requests left in this window after this one. */
  remaining: number;
  /** Unix ms when the window ends. */
  resetAt: number;
}

export type WaitUntil = (p: Promise<unknown>) => void;

export class ShardedCounter {
  constructor(
    private readonly kv: KVNamespace,
    private readonly namespace: string,
    private readonly windowSeconds: number,
    /** How long past its window a shard key is kept (for usage history). */
    private readonly retainSeconds: number,
    private readonly log: Log = logger(null),
    private readonly isolate: CounterIsolate = thisIsolate(),
  ) {}

  /**
   * KV failing is not a reason to refuse a request: counting goes on in memory (fail-open), and the
   * failure is logged at most once a minute per isolate. The counts stay exact within this isolate;
   * other isolates' counts are the last ones read until KV answers again.
   */
  private kvFailed(what: string, err: unknown) {
    if (onceAMinute("kv rate counter")) {
      this.log("warn", `rate counter ${what} failed; counting in memory (fail-open)`, { error: describe(err) });
    }
  }

  windowStart(now: number): number {
    const w = this.windowSeconds * 1000;
    return Math.floor(now / w) * w;
  }

  private prefix(id: string, start: number) {
    return `${this.namespace}:${id}:${start / 1000}:`;
  }

  private state(id: string, start: number): WindowState {
    const { states } = this.isolate;
    const name = this.prefix(id, start);
    let s = states.get(name);
    if (!s) {
      if (states.size >= maxTracked) this.evict(start);
      s = {
        local: 0,
        flushed: 0,
        others: 0,
        othersAt: 0,
        refreshing: null,
        flushPending: false,
        lastFlushAt: 0,
        last: null,
        near: false,
      };
      states.set(name, s);
    }
    return s;
  }

  /**
   * Keeps the map bounded: drops finished windows first (their counts are in KV), then, if that
   * is not enough (more ids in one window than the bound), current windows with no flush pending.
   * A dropped current window is read back on its next hit: the first refresh adopts this
   * isolate's own stored total, so no count is lost.
   */
  private evict(currentStart: number) {
    const { states } = this.isolate;
    for (const [name, s] of states) {
      const start = Number(name.split(":").at(-2)) * 1000;
      if (start < currentStart && !s.flushPending) states.delete(name);
    }
    if (states.size < maxTracked) return;
    for (const [name, s] of states) {
      if (!s.flushPending && !s.refreshing) states.delete(name);
      if (states.size < maxTracked / 2) return;
    }
  }

  /** Sum of the other shards' totals, from one paginated `list()` of the window's prefix. */
  private async refresh(id: string, start: number, s: WindowState, now: number) {
    let others = 0;
    let own = 0;
    let cursor: string | undefined;
    do {
      const page: KVNamespaceListResult<{ n?: number }> = await this.kv.list({
        prefix: this.prefix(id, start),
        cursor,
      });
      for (const k of page.keys) {
        if (k.name.endsWith(`:${this.isolate.shard}`)) own = k.metadata?.n ?? 0;
        else others += k.metadata?.n ?? 0;
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    s.others = others;
    // The first refresh of a window this isolate had counted and then evicted: carry on from its
    // stored total, adding what it counted since it saw the window again (no flush happens before
    // the first refresh, so the stored total is not one of those).
    if (s.othersAt === 0 && own > s.flushed) {
      s.local += own - s.flushed;
      s.flushed = own;
    }
    // On the caller's clock (the `now` of the hit that asked), so the refresh interval is measured
    // on one clock, not from whenever KV happened to answer.
    s.othersAt = now;
  }

  /**
   * The window's state, and the other shards' sum brought up to date when the credit allows: awaited
   * the first time this isolate sees the id in this window; later refreshes (at most every
   * `REFRESH_MS`) run in `waitUntil` while the request goes on with the sum it has, so no request
   * waits on a KV `list()` twice. A window already at `limit` is not refreshed.
   */
  private async current(id: string, now: number, waitUntil: WaitUntil, limit: number) {
    this.isolate.earn();
    const start = this.windowStart(now);
    const s = this.state(id, start);
    if (s.refreshing && s.othersAt === 0) await s.refreshing;
    const first = s.othersAt === 0;
    const due = first || (now - s.othersAt >= REFRESH_MS && s.local + s.others < limit);
    s.near = isNear(s, limit);
    if (due && !s.refreshing && this.take(s, "refresh", now)) {
      s.refreshing = this.refresh(id, start, s, now)
        .catch((err) => {
          // Try again after the refresh interval, not on every request.
          s.othersAt = now;
          this.kvFailed("refresh", err);
        })
        .finally(() => {
          s.refreshing = null;
        });
      if (first) await s.refreshing;
      else waitUntil(s.refreshing);
    }
    return { start, s };
  }

  /**
   * Takes the isolate's credit for one operation of this window. When the window also wants the
   * other one (a flush pending its turn, a refresh due), the one it did last waits a turn.
   */
  private take(s: WindowState, op: "refresh" | "flush", now: number) {
    const floor = s.near ? 1 : 1 + RESERVE;
    if (this.isolate.credit < floor) return false;
    const other = op === "refresh" ? "flush" : "refresh";
    if (op === s.last && this.isolate.credit < floor + 1 && this.wants(s, other, now)) return false;
    this.isolate.spend();
    s.last = op;
    return true;
  }

  private wants(s: WindowState, op: "refresh" | "flush", now: number) {
    if (op === "flush") return s.local > s.flushed && !s.flushPending && s.othersAt > 0;
    return s.othersAt === 0 || now - s.othersAt >= REFRESH_MS;
  }

  /**
   * Writes this isolate's total to its shard key, if the credit allows: at most once a second, and
   * only once the window was read (its stored total adopted). What is not written yet is written by
   * a later request's flush; the counts stay exact in this isolate meanwhile.
   */
  private scheduleFlush(id: string, start: number, s: WindowState, waitUntil: WaitUntil, now: number) {
    if (s.flushPending || s.othersAt === 0 || s.local <= s.flushed || !this.take(s, "flush", now)) return;
    s.flushPending = true;
    const delay = Math.max(0, s.lastFlushAt + FLUSH_INTERVAL_MS - Date.now());
    const key = this.prefix(id, start) + this.isolate.shard;
    const expirationTtl = Math.max(
      60,
      Math.ceil((start - Date.now()) / 1000) + this.windowSeconds + this.retainSeconds,
    );
    waitUntil(
      (async () => {
        if (delay > 0) await this.isolate.sleep(delay);
        s.flushPending = false;
        s.lastFlushAt = Date.now();
        if (this.isolate.forgotten.has(`${this.namespace}:${id}`)) return;
        const n = s.local;
        try {
          await this.kv.put(key, String(n), { metadata: { n }, expirationTtl });
          s.flushed = Math.max(s.flushed, n);
        } catch (err) {
          // The total stays in memory; the next increment schedules another flush.
          this.kvFailed("flush", err);
        }
      })(),
    );
  }

  /** Counts one request if it fits under `limit`; refuses it (without counting) otherwise. */
  async hit(id: string, limit: number, now: number, waitUntil: WaitUntil): Promise<Hit> {
    const { start, s } = await this.current(id, now, waitUntil, limit);
    const resetAt = start + this.windowSeconds * 1000;
    const used = s.local + s.others;
    if (used >= limit) return { allowed: false, limit, remaining: 0, resetAt };
    s.local += 1;
    this.scheduleFlush(id, start, s, waitUntil, now);
    return { allowed: true, limit, remaining: limit - used - 1, resetAt };
  }

  /** Counts one event with no limit (e.g. a failed authentication). */
  async add(id: string, now: number, waitUntil: WaitUntil): Promise<number> {
    const { start, s } = await this.current(id, now, waitUntil, Number.POSITIVE_INFINITY);
    s.local += 1;
    this.scheduleFlush(id, start, s, waitUntil, now);
    return s.local + s.others;
  }

  /**
   * Deletes every stored count of `id` (all windows, all writers) with at most `maxOps` KV
   * operations; answers how many it used and whether it got them all. This isolate writes none of
   * its counts again; another isolate that counted `id` in the last second may (that key expires
   * with its window, at most 49 h on).
   */
  async forget(id: string, maxOps: number): Promise<{ ops: number; complete: boolean }> {
    this.isolate.forgotten.add(`${this.namespace}:${id}`);
    let ops = 0;
    let cursor: string | undefined;
    do {
      if (ops >= maxOps) return { ops, complete: false };
      const page = await this.kv.list({ prefix: `${this.namespace}:${id}:`, cursor });
      ops += 1;
      for (const k of page.keys) {
        if (ops >= maxOps) return { ops, complete: false };
        await this.kv.delete(k.name);
        ops += 1;
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return { ops, complete: true };
  }

  /** This window's total as this isolate knows it, without I/O; null if it has never seen `id`. */
  knownTotal(id: string, now: number): number | null {
    const s = this.isolate.states.get(this.prefix(id, this.windowStart(now)));
    return s ? s.local + s.others : null;
  }

  /**
   * Totals per window for the last `windows` windows, oldest first: one `list()` of the id's
   * prefix, plus this isolate's not-yet-flushed counts.
   */
  async history(id: string, windows: number, now: number): Promise<{ start: number; count: number }[]> {
    const current = this.windowStart(now);
    const w = this.windowSeconds * 1000;
    const totals = new Map<number, number>();
    const ownFlushed = new Map<number, number>();
    let cursor: string | undefined;
    do {
      let page: KVNamespaceListResult<{ n?: number }>;
      try {
        page = await this.kv.list({ prefix: `${this.namespace}:${id}:`, cursor });
      } catch (err) {
        // A history cannot be made up: the caller gets 503.
        throw new DependencyUnavailable("KV", { cause: err });
      }
      for (const k of page.keys) {
        const [, , startSec, writer] = k.name.split(":");
        const start = Number(startSec) * 1000;
        const into = writer === this.isolate.shard ? ownFlushed : totals;
        into.set(start, (into.get(start) ?? 0) + (k.metadata?.n ?? 0));
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return Array.from({ length: windows }, (_, i) => {
      const start = current - (windows - 1 - i) * w;
      // Our own shard: memory is newer than KV, unless the window was already evicted from memory.
      const mine = Math.max(this.isolate.states.get(this.prefix(id, start))?.local ?? 0, ownFlushed.get(start) ?? 0);
      return { start, count: (totals.get(start) ?? 0) + mine };
    });
  }
}

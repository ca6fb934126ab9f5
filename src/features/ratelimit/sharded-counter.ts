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
 *   admission is decided in memory.
 * - **Self-expiring.** Every shard key carries an `expirationTtl` covering the retention span.
 *
 * The check-and-increment runs synchronously after the (shared) refresh, so within one isolate
 * it is exact under concurrency; on one machine (`wrangler dev`) there is one isolate.
 * @see https://developers.cloudflare.com/kv/platform/limits/
 */
export const REFRESH_MS = 10_000;
const FLUSH_INTERVAL_MS = 1_000;
/** Windows this isolate keeps in memory (about 200 bytes each); see `evict`. */
let maxTracked = 20_000;

/** For tests: how many windows this isolate holds, and a lower bound to reach it quickly. */
export const tracking = {
  size: () => states.size,
  setMax: (n: number) => {
    maxTracked = n;
  },
};

/** This isolate's shard id: a new isolate is a new writer. Lazy: no randomness in global scope. */
let shard: string | undefined;
const shardId = () => (shard ??= randomBase62(12));

interface WindowState {
  local: number;
  others: number;
  othersAt: number;
  refreshing: Promise<void> | null;
  flushPending: boolean;
  lastFlushAt: number;
}

export interface Hit {
  allowed: boolean;
  limit: number;
  /** Requests left in this window after this one. */
  remaining: number;
  /** Unix ms when the window ends. */
  resetAt: number;
}

export type WaitUntil = (p: Promise<unknown>) => void;

/** Bounded to `maxTracked` by `evict` (finished windows first), which needs to know the current window. */
const states = new IsolateMap<string, WindowState>("rate counter windows", Number.POSITIVE_INFINITY);
/** Ids whose counts were deleted (`forget`): a flush already scheduled for one writes nothing. */
const forgotten = new IsolateSet<string>("rate counters forgotten", 20_000);

export class ShardedCounter {
  constructor(
    private readonly kv: KVNamespace,
    private readonly namespace: string,
    private readonly windowSeconds: number,
    /** How long past its window a shard key is kept (for usage history). */
    private readonly retainSeconds: number,
    private readonly log: Log = logger(null),
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
    const name = this.prefix(id, start);
    let s = states.get(name);
    if (!s) {
      if (states.size >= maxTracked) this.evict(start);
      s = { local: 0, others: 0, othersAt: 0, refreshing: null, flushPending: false, lastFlushAt: 0 };
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
        if (k.name.endsWith(`:${shardId()}`)) own = k.metadata?.n ?? 0;
        else others += k.metadata?.n ?? 0;
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    s.others = others;
    // The first refresh of a window this isolate had counted and then evicted: carry on from its
    // stored total (no increment happens before the first refresh, so `local` is still 0).
    if (s.othersAt === 0) s.local = Math.max(s.local, own);
    // On the caller's clock (the `now` of the hit that asked), so the refresh interval is measured
    // on one clock, not from whenever KV happened to answer.
    s.othersAt = now;
  }

  /**
   * The window's state. The other shards' sum is awaited only the first time this isolate sees
   * the id in this window; later refreshes run in `waitUntil` while the request goes on with the
   * sum it has (at most one refresh interval older), so no request waits on a KV `list()` twice.
   */
  private async current(id: string, now: number, waitUntil: WaitUntil) {
    const start = this.windowStart(now);
    const s = this.state(id, start);
    if (now - s.othersAt >= REFRESH_MS) {
      const first = s.othersAt === 0;
      s.refreshing ??= this.refresh(id, start, s, now)
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

  private scheduleFlush(id: string, start: number, s: WindowState, waitUntil: WaitUntil) {
    if (s.flushPending) return;
    s.flushPending = true;
    const delay = Math.max(0, s.lastFlushAt + FLUSH_INTERVAL_MS - Date.now());
    const key = this.prefix(id, start) + shardId();
    const expirationTtl = Math.max(
      60,
      Math.ceil((start - Date.now()) / 1000) + this.windowSeconds + this.retainSeconds,
    );
    waitUntil(
      (async () => {
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        s.flushPending = false;
        s.lastFlushAt = Date.now();
        if (forgotten.has(`${this.namespace}:${id}`)) return;
        const n = s.local;
        try {
          await this.kv.put(key, String(n), { metadata: { n }, expirationTtl });
        } catch (err) {
          // The total stays in memory; the next increment schedules another flush.
          this.kvFailed("flush", err);
        }
      })(),
    );
  }

  /** Counts one request if it fits under `limit`; refuses it (without counting) otherwise. */
  async hit(id: string, limit: number, now: number, waitUntil: WaitUntil): Promise<Hit> {
    const { start, s } = await this.current(id, now, waitUntil);
    const resetAt = start + this.windowSeconds * 1000;
    const used = s.local + s.others;
    if (used >= limit) return { allowed: false, limit, remaining: 0, resetAt };
    s.local += 1;
    this.scheduleFlush(id, start, s, waitUntil);
    return { allowed: true, limit, remaining: limit - used - 1, resetAt };
  }

  /** Counts one event with no limit (e.g. a failed authentication). */
  async add(id: string, now: number, waitUntil: WaitUntil): Promise<number> {
    const { start, s } = await this.current(id, now, waitUntil);
    s.local += 1;
    this.scheduleFlush(id, start, s, waitUntil);
    return s.local + s.others;
  }

  /**
   * Deletes every stored count of `id` (all windows, all writers) with at most `maxOps` KV
   * operations; answers how many it used and whether it got them all. This isolate writes none of
   * its counts again; another isolate that counted `id` in the last second may (that key expires
   * with its window, at most 49 h on).
   */
  async forget(id: string, maxOps: number): Promise<{ ops: number; complete: boolean }> {
    forgotten.add(`${this.namespace}:${id}`);
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
    const s = states.get(this.prefix(id, this.windowStart(now)));
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
        const into = writer === shardId() ? ownFlushed : totals;
        into.set(start, (into.get(start) ?? 0) + (k.metadata?.n ?? 0));
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return Array.from({ length: windows }, (_, i) => {
      const start = current - (windows - 1 - i) * w;
      // Our own shard: memory is newer than KV, unless the window was already evicted from memory.
      const mine = Math.max(states.get(this.prefix(id, start))?.local ?? 0, ownFlushed.get(start) ?? 0);
      return { start, count: (totals.get(start) ?? 0) + mine };
    });
  }
}

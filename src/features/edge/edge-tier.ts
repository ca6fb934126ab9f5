import type { Db } from "../../db/client";
import type { Log } from "../../lib/log";
import { type Fill, fillRecord, type RecordKind, recordPath } from "./records";

/**
 * The edge tier: credential records cached in the caller's colo, filled from the D1 primary on a
 * miss, purged by tag on every change. One contract, three implementations chosen by
 * `EDGE_CACHE` (config.ts), never by checks scattered in the code:
 *
 * - `workers-cache` (deployed): Workers Cache in front of the `CredentialRecords` entrypoint
 *   (src/edge.ts); a miss runs that entrypoint, which fills from the primary; purge by tag from
 *   inside it (`ctx.cache.purge`), which reaches every colo.
 * - `local` (`wrangler dev`, the tests, the geo bench): the `ColoCache` Durable Object, one per
 *   process — a colo — with the same contract; a purge goes to `EDGE_PURGE_URL` when set (a
 *   service that fans it out to every simulated colo), else to this process's own.
 * - `off`: every check reads the primary; a purge has nothing to do.
 */
export interface EdgeTier {
  readonly mode: "workers-cache" | "local" | "off";
  /** The same for every invocation of an isolate: purges of concurrent changes are coalesced by it. */
  readonly key: string;
  /** The platform's purge limits, kept by each isolate as a token bucket; null: none to keep. */
  readonly purgeLimit: { burst: number; refillMs: number } | null;
  /** The record (JSON text; null: not found), from this colo's cache or freshly filled. */
  read(kind: RecordKind, hash: string): Promise<{ body: string | null; filledAt: number; hit: boolean }>;
  /** Removes every record carrying any of `tags`, everywhere; resolves when acknowledged, else throws. */
  purge(tags: string[]): Promise<void>;
}

export interface EdgeDeps {
  db: Db;
  now: () => number;
  log: Log;
  waitUntil: (p: Promise<unknown>) => void;
  fetch: typeof fetch;
  /** How long a record is trusted after its fill: the bound when a purge cannot be confirmed. */
  ttlSeconds: number;
  /** A fill whose primary read took longer is not cached (`invalidation.ts`). */
  fillWindowMs: number;
}

/** A fill worth caching: found, and read within the fill window (see `invalidation.ts`). */
export const cacheable = (fill: Fill, fillWindowMs: number) =>
  fill.body !== null && fill.cache && fill.tookMs <= fillWindowMs;

/** Every check reads the primary. */
export function offTier(deps: EdgeDeps): EdgeTier {
  return {
    mode: "off",
    key: "off",
    purgeLimit: null,
    async read(kind, hash) {
      const fill = await fillRecord(deps.db, kind, hash, deps.now);
      return { body: fill.body, filledAt: fill.filledAt, hit: false };
    },
    purge: async () => {},
  };
}

/** The local stand-in: this process's `ColoCache`, and a purge that reaches every colo it knows of. */
export function localTier(
  deps: EdgeDeps,
  colo: DurableObjectNamespace<import("./colo-cache").ColoCache>,
  purgeUrl: string | null,
  purgeToken: string | undefined,
): EdgeTier {
  const stub = () => colo.get(colo.idFromName("colo"));
  return {
    mode: "local",
    key: `local ${purgeUrl ?? "self"}`,
    // The stand-in has no limit of its own; the geo bench's purge service applies a configurable one.
    purgeLimit: null,
    async read(kind, hash) {
      const path = recordPath(kind, hash);
      const at = deps.now();
      const hit = await stub().get(path, at);
      if (hit && hit.filledAt + deps.ttlSeconds * 1000 > at)
        return { body: hit.body, filledAt: hit.filledAt, hit: true };
      const fill = await fillRecord(deps.db, kind, hash, deps.now);
      if (fill.body !== null && cacheable(fill, deps.fillWindowMs)) {
        const expiresAt = fill.filledAt + deps.ttlSeconds * 1000;
        // Issued now, before the fill window closes: a purge issued after it removes it.
        deps.waitUntil(
          stub()
            .put(path, fill.body, fill.filledAt, expiresAt, fill.tags)
            .catch((err: unknown) => deps.log("warn", "edge put failed", { error: String(err) })),
        );
      }
      return { body: fill.body, filledAt: fill.filledAt, hit: false };
    },
    async purge(tags) {
      if (!purgeUrl) {
        await stub().purge(tags);
        return;
      }
      const res = await deps.fetch(purgeUrl, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${purgeToken ?? ""}` },
        body: JSON.stringify({ tags }),
      });
      if (!res.ok) throw new Error(`purge service answered ${res.status}`);
    },
  };
}

/** What the `CredentialRecords` entrypoint offers: its fetch (behind Workers Cache) and its purge. */
export interface CredentialRecordsEntrypoint {
  fetch(request: Request): Promise<Response>;
  purge(tags: string[]): Promise<{ success: boolean; errors: unknown[] }>;
}

/** The URL the `CredentialRecords` entrypoint is fetched at: the cache key is its path. */
const RECORDS_ORIGIN = "https://records.keyhook.internal";

/** Workers Cache in front of the `CredentialRecords` entrypoint (deployed). */
export function workersCacheTier(deps: EdgeDeps, records: CredentialRecordsEntrypoint): EdgeTier {
  return {
    mode: "workers-cache",
    key: "workers-cache",
    // "Always uses the Free tier limits": a burst of 25 calls, then 5 a minute.
    purgeLimit: { burst: 25, refillMs: 12_000 },
    async read(kind, hash) {
      const res = await records.fetch(new Request(`${RECORDS_ORIGIN}${recordPath(kind, hash)}`));
      const filledAt = Number(res.headers.get("x-keyhook-filled-at") ?? deps.now());
      const hit = /^HIT/i.test(res.headers.get("cf-cache-status") ?? "");
      if (res.status === 404) return { body: null, filledAt, hit };
      if (!res.ok) throw new Error(`credential records answered ${res.status}`);
      const body = await res.text();
      // Trusted for ttlSeconds after its fill, whatever the cache does: the bound under a failed purge.
      if (hit && filledAt + deps.ttlSeconds * 1000 <= deps.now()) {
        const fill = await fillRecord(deps.db, kind, hash, deps.now);
        return { body: fill.body, filledAt: fill.filledAt, hit: false };
      }
      return { body, filledAt, hit };
    },
    async purge(tags) {
      const result = await records.purge(tags);
      if (!result.success)
        throw new Error(`Workers Cache purge failed: ${JSON.stringify(result.errors).slice(0, 200)}`);
    },
  };
}

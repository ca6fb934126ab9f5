import { WorkerEntrypoint } from "cloudflare:workers";
import { cacheable } from "./features/edge/edge-tier";
import { fillRecord, parseRecordPath } from "./features/edge/records";
import { platformOf } from "./platform";

const noStore = { "cache-control": "no-store" };

/**
 * The credential records behind Workers Cache (`EDGE_CACHE=workers-cache`): the hot path fetches
 * `GET /keys/<sha256>` or `/tokens/<sha256>` through `ctx.exports.CredentialRecords`, so a hit is
 * answered by the caller's colo without running this entrypoint, and a miss runs it: one read of
 * the D1 primary. A record is cached (`Cache-Control: max-age=EDGE_RECORD_TTL_SECONDS`, tagged
 * with everything it was built from) only when found and read within the fill window; "not
 * found" is never cached. `purge` runs here because Workers Cache scopes a purge to the
 * entrypoint that calls it.
 * @see https://developers.cloudflare.com/workers/cache/purge/
 */
export class CredentialRecords extends WorkerEntrypoint<Env> {
  override async fetch(request: Request): Promise<Response> {
    const target = request.method === "GET" ? parseRecordPath(new URL(request.url).pathname) : null;
    if (!target) return new Response(null, { status: 404, headers: noStore });
    const platform = platformOf(this.env, { waitUntil: (p) => this.ctx.waitUntil(p), requestId: "records" });
    const fill = await fillRecord(platform.db, target.kind, target.hash, platform.now);
    const filledAt = { "x-keyhook-filled-at": String(fill.filledAt) };
    if (fill.body === null) return new Response(null, { status: 404, headers: { ...noStore, ...filledAt } });
    const { ttlSeconds, fillWindowMs } = platform.settings.edge;
    const caching = cacheable(fill, fillWindowMs)
      ? { "cache-control": `public, max-age=${ttlSeconds}`, "cache-tag": fill.tags.join(",") }
      : noStore;
    return new Response(fill.body, { headers: { "content-type": "application/json", ...filledAt, ...caching } });
  }

  /** Purges every record carrying any of `tags`, in every colo (Workers Cache's own purge). */
  async purge(tags: string[]): Promise<{ success: boolean; errors: unknown[] }> {
    const cache = this.ctx.cache;
    if (!cache) return { success: false, errors: ["Workers Cache is not enabled for this Worker"] };
    const result = await cache.purge({ tags: tags.map(String).slice(0, 100) });
    return { success: result.success, errors: [...(result.errors ?? [])] };
  }
}

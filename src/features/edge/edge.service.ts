import { ownJson } from "../../lib/encoding";
import type { Platform } from "../../platform";
import type { FoundKey } from "../auth/auth.repo";
import { type CredentialRecordsEntrypoint, type EdgeDeps, localTier, offTier, workersCacheTier } from "./edge-tier";
import { type InvalidationResult, invalidate } from "./invalidation";
import type { FoundToken } from "./records";

/**
 * Verification at the edge, as the services use it: credential records read through the tier
 * `EDGE_CACHE` names, and every change's invalidation (awaited by the change before it answers).
 * What could not be confirmed is kept for the answer's `Keyhook-Invalidation` header.
 */
export function createEdgeService(platform: Platform) {
  const { settings } = platform;
  const deps: EdgeDeps = {
    db: platform.db,
    now: platform.now,
    log: platform.log,
    waitUntil: platform.waitUntil,
    fetch: platform.fetch,
    ttlSeconds: settings.edge.ttlSeconds,
    fillWindowMs: settings.edge.fillWindowMs,
  };
  const tier =
    settings.edge.mode === "off"
      ? offTier(deps)
      : settings.edge.mode === "local"
        ? localTier(deps, platform.edgeColo, settings.edge.purgeUrl, platform.secrets.adminToken)
        : workersCacheTier(deps, credentialRecords(platform));
  const unconfirmed: InvalidationResult[] = [];

  return {
    tier,
    /** Changes whose purge was not confirmed within the answer's budget (each with its bound). */
    unconfirmed,

    /** The key behind a hash, from this colo's cache or the primary; `hit`: no D1 read was made. */
    async key(hash: string): Promise<{ found: FoundKey | undefined; hit: boolean }> {
      const read = await tier.read("keys", hash);
      return { found: read.body === null ? undefined : (ownJson(read.body) as FoundKey), hit: read.hit };
    },

    /** The access token behind a hash, likewise. */
    async token(hash: string): Promise<{ found: FoundToken | undefined; hit: boolean }> {
      const read = await tier.read("tokens", hash);
      return { found: read.body === null ? undefined : (ownJson(read.body) as FoundToken), hit: read.hit };
    },

    /** Purges what a change touched, everywhere; resolves when acknowledged or the answer's budget is spent. */
    async invalidate(tags: string[]) {
      const result = await invalidate(
        {
          tier,
          log: platform.log,
          waitUntil: platform.waitUntil,
          now: platform.now,
          ttlSeconds: settings.edge.ttlSeconds,
          fillWindowMs: settings.edge.fillWindowMs,
        },
        tags,
      );
      if (!result.confirmed) unconfirmed.push(result);
      return result;
    },
  };
}

/** The `CredentialRecords` entrypoint (src/edge.ts), through this invocation's loopback binding. */
function credentialRecords(platform: Platform): CredentialRecordsEntrypoint {
  const records = platform.exports?.CredentialRecords as CredentialRecordsEntrypoint | undefined;
  if (!records) throw new Error("EDGE_CACHE=workers-cache needs ctx.exports (a compatibility date from 2025-11-17)");
  return records;
}

export type EdgeService = ReturnType<typeof createEdgeService>;

import type { z } from "@hono/zod-openapi";
import type { Caller } from "../../lib/caller";
import { ApiError } from "../../lib/errors";
import { iso } from "../../lib/schemas";
import type { Platform } from "../../platform";
import * as repo from "./analytics.repo";
import type { VerificationsQuery } from "./analytics.schemas";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** How far back each granularity reaches; the cron prunes what is older than the longest. */
const REACH = { hour: 7 * DAY_MS, day: 90 * DAY_MS } as const;
const DEFAULT_SPAN = { hour: DAY_MS, day: 30 * DAY_MS } as const;
const RETENTION_MS = REACH.day + DAY_MS;

type Outcomes = Record<string, number>;

/** Verification analytics: series per outcome, totals, top keys. */
export function createAnalyticsService(platform: Platform) {
  const { db, now } = platform;
  return {
    async verifications(caller: Caller, query: z.infer<typeof VerificationsQuery>) {
      const at = now();
      const size = query.granularity === "hour" ? HOUR_MS : DAY_MS;
      const until = query.until ? Date.parse(query.until) : at;
      const since = query.since ? Date.parse(query.since) : until - DEFAULT_SPAN[query.granularity];
      if (since >= until) throw new ApiError("validation_failed", "since must be before until");
      if (since < at - REACH[query.granularity]) {
        const days = REACH[query.granularity] / DAY_MS;
        throw new ApiError("validation_failed", `${query.granularity} counts reach back ${days} days at most`);
      }
      if (query.keyId && !(await repo.keyOfAccount(db, caller.accountId, query.keyId))) {
        throw new ApiError("not_found", "API key not found");
      }
      // Whole buckets: from the bucket `since` falls in to the one `until` falls in.
      const first = Math.floor(since / size) * size;
      const end = Math.floor((until - 1) / size) * size + size;
      const rows = await repo.countsByHour(db, caller.accountId, first, end, query.keyId);
      const buckets = new Map<number, Outcomes>();
      for (let start = first; start < end; start += size) buckets.set(start, {});
      const totals: Outcomes = {};
      for (const r of rows) {
        const bucket = buckets.get(Math.floor(r.hour / size) * size);
        if (!bucket) continue;
        bucket[r.outcome] = (bucket[r.outcome] ?? 0) + Number(r.count);
        totals[r.outcome] = (totals[r.outcome] ?? 0) + Number(r.count);
      }
      const sum = (o: Outcomes) => Object.values(o).reduce((a, b) => a + b, 0);
      const top = query.keyId ? null : await repo.topKeys(db, caller.accountId, first, end, 10);
      return {
        keyId: query.keyId ?? null,
        granularity: query.granularity,
        since: iso(first),
        until: iso(end),
        series: [...buckets].map(([start, outcomes]) => ({ start: iso(start), total: sum(outcomes), outcomes })),
        totals: { total: sum(totals), outcomes: totals },
        topKeys:
          top?.map((k) => ({ keyId: k.keyId, name: k.name, total: Number(k.total), valid: Number(k.valid) })) ?? null,
      };
    },

    /** The cron: counts older than the longest reach go. */
    async prune() {
      const result = await repo.pruneBefore(db, now() - RETENTION_MS);
      return result.meta.changes ?? 0;
    },
  };
}

export type AnalyticsService = ReturnType<typeof createAnalyticsService>;

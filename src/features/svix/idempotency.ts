import { and, eq, lt } from "drizzle-orm";
import type { Db } from "../../db/client";
import { apiIdempotency } from "../../db/schema";

/** How long an answer is kept for a retry (Svix keeps its 12 h; Keyhook's events keep theirs 24 h). */
const IDEMPOTENCY_MS = 24 * 3_600_000;

export type Claim =
  | { kind: "run" }
  | { kind: "replay"; status: number; body: string | null }
  | { kind: "busy" }
  | { kind: "mismatch" };

/**
 * A POST's `idempotency-key` (Svix's client sends one on every POST, and the same on its retries):
 * the first request claims the key and runs; a later one with the key gets the first's answer, or
 * 409 while it is still running, or 422 when the key was used for another request. One D1 write to
 * claim, one to keep the answer (or to free the key when the answer was an error a retry may mend).
 */
export function createIdempotency(db: Db, now: () => number) {
  return {
    async claim(key: string, request: string): Promise<Claim> {
      const at = now();
      // An answer past its time no longer holds the key.
      await db
        .delete(apiIdempotency)
        .where(and(eq(apiIdempotency.key, key), lt(apiIdempotency.createdAt, at - IDEMPOTENCY_MS)));
      const claimed = await db
        .insert(apiIdempotency)
        .values({ key, request, status: null, body: null, createdAt: at })
        .onConflictDoNothing()
        .returning({ key: apiIdempotency.key });
      if (claimed.length > 0) return { kind: "run" };
      const row = await db.select().from(apiIdempotency).where(eq(apiIdempotency.key, key)).get();
      if (!row) return { kind: "busy" }; // freed meanwhile: the client may try again
      if (row.request !== request) return { kind: "mismatch" };
      if (row.status === null) return { kind: "busy" };
      return { kind: "replay", status: row.status, body: row.body };
    },

    /** The answer, kept for retries; an error a retry may mend (5xx, 429, 409 busy) frees the key. */
    async settle(key: string, status: number, body: string) {
      if (status >= 500 || status === 429) {
        await db.delete(apiIdempotency).where(eq(apiIdempotency.key, key));
        return;
      }
      await db.update(apiIdempotency).set({ status, body }).where(eq(apiIdempotency.key, key));
    },

    /** Answers past their time (the cron). */
    async prune() {
      const gone = await db
        .delete(apiIdempotency)
        .where(lt(apiIdempotency.createdAt, now() - IDEMPOTENCY_MS))
        .returning({ key: apiIdempotency.key });
      return gone.length;
    },
  };
}

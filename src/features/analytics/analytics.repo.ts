import { and, eq, gte, lt, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { apiKeys, verificationCounts as v } from "../../db/schema";

const inRange = (accountId: string, since: number, until: number, keyId?: string) =>
  and(eq(v.accountId, accountId), gte(v.hour, since), lt(v.hour, until), keyId ? eq(v.keyId, keyId) : undefined);

/** Counts per hour and outcome. */
export function countsByHour(db: Db, accountId: string, since: number, until: number, keyId?: string) {
  return db
    .select({ hour: v.hour, outcome: v.outcome, count: sql<number>`sum(${v.count})` })
    .from(v)
    .where(inRange(accountId, since, until, keyId))
    .groupBy(v.hour, v.outcome)
    .all();
}

/** The keys with the most verifications in the range, with their names. */
export function topKeys(db: Db, accountId: string, since: number, until: number, limit: number) {
  const total = sql<number>`sum(${v.count})`;
  return db
    .select({
      keyId: v.keyId,
      name: apiKeys.name,
      total,
      valid: sql<number>`sum(CASE WHEN ${v.outcome} = 'VALID' THEN ${v.count} ELSE 0 END)`,
    })
    .from(v)
    .leftJoin(apiKeys, eq(apiKeys.id, v.keyId))
    .where(and(inRange(accountId, since, until), sql`${v.keyId} != ''`))
    .groupBy(v.keyId, apiKeys.name)
    .orderBy(sql`${total} DESC`)
    .limit(limit)
    .all();
}

/** A key of the account, revoked or not (its history stays readable). */
export function keyOfAccount(db: Db, accountId: string, id: string) {
  return db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(and(eq(apiKeys.id, id), eq(apiKeys.accountId, accountId)))
    .get();
}

/** The cron: counts older than `before` go. */
export function pruneBefore(db: Db, before: number) {
  return db.delete(v).where(lt(v.hour, before)).run();
}

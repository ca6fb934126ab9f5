import type { z } from "@hono/zod-openapi";
import type { AccountRow } from "../../db/schema";
import type { AuditContext } from "../../lib/caller";
import { newId } from "../../lib/encoding";
import { ApiError, uniqueWrite } from "../../lib/errors";
import { describe } from "../../lib/log";
import { planLimits } from "../../lib/plans";
import { found, iso, page } from "../../lib/schemas";
import type { Platform } from "../../platform";
import { auditRow, diff } from "../audit/audit.service";
import type { EdgeService } from "../edge/edge.service";
import type { HistoryService } from "../history/history.service";
import { keyRequests } from "../ratelimit/limits";
import { forgetTargets } from "../webhooks/targets";
import * as repo from "./accounts.repo";
import type { Account, CreateAccountBody, UpdateAccountBody } from "./accounts.schemas";

function toAccount(row: AccountRow): z.infer<typeof Account> {
  const overrides = { maxActiveKeys: row.maxActiveKeys, rateLimitPerHour: row.rateLimitPerHour };
  return {
    id: row.id,
    name: row.name,
    externalId: row.externalId,
    plan: row.plan as z.infer<typeof Account>["plan"],
    limits: planLimits(row.plan, overrides),
    overrides,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

const audited = ({ name, externalId, plan, overrides }: z.infer<typeof Account>) => ({
  name,
  externalId,
  plan,
  overrides,
});

/** Two accounts with one external id: the unique index refused the write. */
const uniqueExternalId = <T>(write: Promise<T>, externalId: string | null | undefined) =>
  uniqueWrite(
    write,
    "accounts.external_id",
    () => new ApiError("conflict", "Another account has this externalId", { externalId }),
  );

/**
 * What one invocation spends on a purge before it leaves the rest to the next cron run: D1 calls,
 * and KV operations (a Worker invocation may make 1,000).
 * @see https://developers.cloudflare.com/kv/platform/limits/
 */
export interface PurgeBudget {
  d1: number;
  kv: number;
}
const REQUEST_PURGE_BUDGET: PurgeBudget = { d1: 40, kv: 400 };
const CRON_PURGE_BUDGET: PurgeBudget = { d1: 200, kv: 800 };
const KEYS_PER_STEP = 50;
const EVENTS_PER_STEP = 500;
const AUDIT_PER_STEP = 1000;

/** Accounts (tenants): the operator's. */
export interface AccountsDeps {
  edge: () => EdgeService;
  /** The account's archived webhook history goes with it. */
  history: () => HistoryService;
}

export function createAccountsService({ db, now, kv, log }: Platform, deps: AccountsDeps) {
  /**
   * Deletes what is left of a deleted account, in order: each key's rate counters and then the key,
   * events with their deliveries, attempts, audit entries, and last, in one batch, everything else
   * and the account row. Every step can be stopped and done again; true once the account row is gone.
   */
  async function purge(accountId: string, budget: PurgeBudget): Promise<boolean> {
    const left = { ...budget };
    const counters = keyRequests(kv, log);
    for (;;) {
      if (left.d1 < 2) return false;
      const keys = await repo.keysOf(db, accountId, KEYS_PER_STEP);
      left.d1 -= 1;
      if (keys.length === 0) break;
      const done: string[] = [];
      for (const { id } of keys) {
        const forgot = await counters.forget(id, left.kv);
        left.kv -= forgot.ops;
        if (!forgot.complete) break;
        done.push(id);
      }
      if (done.length > 0) await repo.deleteKeys(db, done);
      left.d1 -= 1;
      if (done.length < keys.length) return false;
    }
    let after = "";
    for (;;) {
      if (left.d1 < 2) return false;
      const found = await repo.eventsAfter(db, accountId, after, EVENTS_PER_STEP);
      left.d1 -= 1;
      if (found.length === 0) break;
      await repo.deleteEvents(
        db,
        found.map((e) => e.id),
      );
      left.d1 -= 1;
      after = found.at(-1)?.id ?? after;
    }
    // The archive: every object under the account's prefix (one list and one delete per call).
    if (left.d1 < 2 || !(await deps.history().forgetAccount(accountId))) return false;
    left.d1 -= 2;
    for (;;) {
      if (left.d1 < 2) return false;
      const removed = await repo.deleteAuditEntries(db, accountId, AUDIT_PER_STEP);
      left.d1 -= 1;
      if ((removed.meta.changes ?? 0) < AUDIT_PER_STEP) break;
    }
    await repo.deleteRest(db, accountId);
    return true;
  }

  return {
    /** The row, or undefined (for `requireAccount` and other services). */
    find: (id: string) => repo.findAccount(db, id),

    async create(audit: AuditContext, input: z.infer<typeof CreateAccountBody>) {
      const at = now();
      const row: AccountRow = {
        id: newId("acc", at),
        name: input.name,
        externalId: input.externalId ?? null,
        plan: input.plan,
        maxActiveKeys: null,
        rateLimitPerHour: null,
        webhooksVersion: 0,
        createdAt: at,
        updatedAt: at,
        deletedAt: null,
      };
      const account = toAccount(row);
      const target = { type: "account", id: row.id, name: row.name };
      await uniqueExternalId(
        repo.insertAccount(
          db,
          row,
          auditRow(audit, row.id, "account.created", target, diff(null, audited(account)), at),
        ),
        row.externalId,
      );
      return account;
    },

    async list(limit: number, cursor: string | undefined, externalId?: string) {
      const { items, nextCursor } = page(await repo.listAccounts(db, limit + 1, cursor, externalId), limit);
      return { accounts: items.map(toAccount), nextCursor };
    },

    async get(id: string) {
      return toAccount(found(await repo.findAccount(db, id), "Account"));
    },

    async update(audit: AuditContext, id: string, input: z.infer<typeof UpdateAccountBody>) {
      const at = now();
      const before = found(await repo.findAccount(db, id), "Account");
      const merged: AccountRow = {
        ...before,
        name: input.name ?? before.name,
        externalId: input.externalId === undefined ? before.externalId : input.externalId,
        plan: input.plan ?? before.plan,
        maxActiveKeys: input.limits?.maxActiveKeys === undefined ? before.maxActiveKeys : input.limits.maxActiveKeys,
        rateLimitPerHour:
          input.limits?.rateLimitPerHour === undefined ? before.rateLimitPerHour : input.limits.rateLimitPerHour,
        updatedAt: at,
      };
      const changes = diff(audited(toAccount(before)), audited(toAccount(merged)));
      const target = { type: "account", id, name: merged.name };
      const { webhooksVersion: _, ...changed } = merged; // never written back: webhook changes bump it concurrently
      const row = await uniqueExternalId(
        repo.updateAccount(db, id, changed, auditRow(audit, id, "account.updated", target, changes, at)),
        merged.externalId,
      );
      await deps.edge().invalidate([`a:${id}`]);
      return toAccount(found(row, "Account"));
    },

    /**
     * Deletes an account: one write ends it at once (it is not found, none of its keys or user
     * tokens is accepted, its webhooks are gone and their pending deliveries cancelled), audited;
     * then its data is purged, here as far as this request's budget goes and by the cron after.
     * `complete` says whether nothing of it is left but the deletion's audit entry.
     */
    async remove(audit: AuditContext, id: string, budget: PurgeBudget = REQUEST_PURGE_BUDGET) {
      const row = found(await repo.findAccount(db, id), "Account");
      const at = now();
      const entry = auditRow(audit, id, "account.deleted", { type: "account", id, name: row.name }, null, at);
      if (!(await repo.markDeleted(db, id, at, entry))) throw new ApiError("not_found", "Account not found");
      await deps.edge().invalidate([`a:${id}`]);
      forgetTargets(id);
      // The deletion is done; a purge that fails here is taken up again by the cron.
      const complete = await purge(id, budget).catch((err) => {
        log("warn", "account purge stopped; the cron goes on with it", { accountId: id, error: describe(err) });
        return false;
      });
      return { id, deleted: true as const, deletedAt: iso(at), complete };
    },

    /** The cron: goes on purging accounts whose deletion did not finish in its request. */
    async purgeDeleted(budget: PurgeBudget = CRON_PURGE_BUDGET) {
      let purged = 0;
      for (const { id } of await repo.deletedAccounts(db, 10)) {
        if (!(await purge(id, budget))) break;
        purged += 1;
      }
      return purged;
    },
  };
}

export type AccountsService = ReturnType<typeof createAccountsService>;

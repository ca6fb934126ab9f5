import type { z } from "@hono/zod-openapi";
import type { Platform } from "../../compose";
import type { AccountRow } from "../../db/schema";
import type { AuditContext } from "../../lib/caller";
import { planLimits } from "../../lib/config";
import { newId } from "../../lib/encoding";
import { found, iso, page } from "../../lib/schemas";
import { auditRow, diff } from "../audit/audit.service";
import { forgetCachedKeys } from "../auth/key-check";
import * as repo from "./accounts.repo";
import type { Account, CreateAccountBody, UpdateAccountBody } from "./accounts.routes";

export function toAccount(row: AccountRow): z.infer<typeof Account> {
  const overrides = { maxActiveKeys: row.maxActiveKeys, rateLimitPerHour: row.rateLimitPerHour };
  return {
    id: row.id,
    name: row.name,
    plan: row.plan as z.infer<typeof Account>["plan"],
    limits: planLimits(row.plan, overrides),
    overrides,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

const audited = ({ name, plan, overrides }: z.infer<typeof Account>) => ({ name, plan, overrides });

/** Accounts (tenants): the operator's. */
export function createAccountsService({ db, now }: Platform) {
  return {
    /** The row, or undefined (for `requireAccount` and other services). */
    find: (id: string) => repo.findAccount(db, id),

    async create(audit: AuditContext, input: z.infer<typeof CreateAccountBody>) {
      const at = now();
      const row: AccountRow = {
        id: newId("acc", at),
        name: input.name,
        plan: input.plan,
        maxActiveKeys: null,
        rateLimitPerHour: null,
        webhooksVersion: 0,
        createdAt: at,
        updatedAt: at,
      };
      const account = toAccount(row);
      const target = { type: "account", id: row.id, name: row.name };
      await repo.insertAccount(
        db,
        row,
        auditRow(audit, row.id, "account.created", target, diff(null, audited(account)), at),
      );
      return account;
    },

    async list(limit: number, cursor: string | undefined) {
      const { items, nextCursor } = page(await repo.listAccounts(db, limit + 1, cursor), limit);
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
        plan: input.plan ?? before.plan,
        maxActiveKeys: input.limits?.maxActiveKeys === undefined ? before.maxActiveKeys : input.limits.maxActiveKeys,
        rateLimitPerHour:
          input.limits?.rateLimitPerHour === undefined ? before.rateLimitPerHour : input.limits.rateLimitPerHour,
        updatedAt: at,
      };
      const changes = diff(audited(toAccount(before)), audited(toAccount(merged)));
      const target = { type: "account", id, name: merged.name };
      const { webhooksVersion: _, ...changed } = merged; // never written back: webhook changes bump it concurrently
      const row = await repo.updateAccount(
        db,
        id,
        changed,
        auditRow(audit, id, "account.updated", target, changes, at),
      );
      forgetCachedKeys();
      return toAccount(found(row, "Account"));
    },
  };
}

export type AccountsService = ReturnType<typeof createAccountsService>;

import type { z } from "@hono/zod-openapi";
import type { Db } from "../../db/client";
import type { AccountRow } from "../../db/schema";
import { planLimits } from "../../lib/config";
import { newId } from "../../lib/encoding";
import { found, iso, page } from "../../lib/schemas";
import { type AuditContext, auditRow, diff } from "../audit/audit.service";
import { forgetCachedKeys } from "../keys/keys.auth";
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

export async function createAccount(db: Db, audit: AuditContext, input: z.infer<typeof CreateAccountBody>, now: number) {
  const row: AccountRow = {
    id: newId("acc", now),
    name: input.name,
    plan: input.plan,
    maxActiveKeys: null,
    rateLimitPerHour: null,
    webhooksVersion: 0,
    createdAt: now,
    updatedAt: now,
  };
  const account = toAccount(row);
  const target = { type: "account", id: row.id, name: row.name };
  await repo.insertAccount(db, row, auditRow(audit, row.id, "account.created", target, diff(null, audited(account)), now));
  return account;
}

export async function listAccounts(db: Db, limit: number, cursor: string | undefined) {
  const { items, nextCursor } = page(await repo.listAccounts(db, limit + 1, cursor), limit);
  return { accounts: items.map(toAccount), nextCursor };
}

export async function getAccount(db: Db, id: string) {
  return toAccount(found(await repo.findAccount(db, id), "Account"));
}

export async function updateAccount(
  db: Db,
  audit: AuditContext,
  id: string,
  input: z.infer<typeof UpdateAccountBody>,
  now: number,
) {
  const before = found(await repo.findAccount(db, id), "Account");
  const merged: AccountRow = {
    ...before,
    name: input.name ?? before.name,
    plan: input.plan ?? before.plan,
    maxActiveKeys: input.limits?.maxActiveKeys === undefined ? before.maxActiveKeys : input.limits.maxActiveKeys,
    rateLimitPerHour:
      input.limits?.rateLimitPerHour === undefined ? before.rateLimitPerHour : input.limits.rateLimitPerHour,
    updatedAt: now,
  };
  const changes = diff(audited(toAccount(before)), audited(toAccount(merged)));
  const target = { type: "account", id, name: merged.name };
  const { webhooksVersion: _, ...changed } = merged; // never written back: webhook changes bump it concurrently
  const row = await repo.updateAccount(db, id, changed, auditRow(audit, id, "account.updated", target, changes, now));
  forgetCachedKeys();
  return toAccount(found(row, "Account"));
}

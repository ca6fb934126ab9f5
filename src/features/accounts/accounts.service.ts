import type { z } from "@hono/zod-openapi";
import type { Db } from "../../db/client";
import type { AccountRow } from "../../db/schema";
import { planLimits } from "../../lib/config";
import { newId } from "../../lib/encoding";
import { found, iso, page } from "../../lib/schemas";
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

export async function createAccount(db: Db, input: z.infer<typeof CreateAccountBody>, now: number) {
  const row = await repo.insertAccount(db, {
    id: newId("acc", now),
    name: input.name,
    plan: input.plan,
    maxActiveKeys: null,
    rateLimitPerHour: null,
    createdAt: now,
    updatedAt: now,
  });
  return toAccount(row);
}

export async function listAccounts(db: Db, limit: number, cursor: string | undefined) {
  const { items, nextCursor } = page(await repo.listAccounts(db, limit + 1, cursor), limit);
  return { accounts: items.map(toAccount), nextCursor };
}

export async function getAccount(db: Db, id: string) {
  return toAccount(found(await repo.findAccount(db, id), "Account"));
}

export async function updateAccount(db: Db, id: string, input: z.infer<typeof UpdateAccountBody>, now: number) {
  const row = await repo.updateAccount(db, id, {
    name: input.name,
    plan: input.plan,
    maxActiveKeys: input.limits?.maxActiveKeys,
    rateLimitPerHour: input.limits?.rateLimitPerHour,
    updatedAt: now,
  });
  return toAccount(found(row, "Account"));
}

import { z } from "@hono/zod-openapi";
import { PLAN_NAMES } from "../../lib/plans";
import { PageQuery, Timestamp } from "../../lib/schemas";

const limit = z.number().int().min(1).max(1_000_000);
/** Up to a billion an hour (~278,000/s): the old cap of a million was 278/s, below one busy integration. */
export const hourlyLimit = z.number().int().min(1).max(1_000_000_000);

export const Account = z
  .object({
    id: z.string().openapi({ example: "acc_01jd8x0000AbCdEfGhIjKlMn" }),
    name: z.string(),
    externalId: z.string().nullable().openapi({ description: "The host application's own id for this customer" }),
    plan: z.enum(PLAN_NAMES),
    limits: z.object({ apiAccess: z.boolean(), maxActiveKeys: z.number(), rateLimitPerHour: z.number() }),
    overrides: z.object({ maxActiveKeys: z.number().nullable(), rateLimitPerHour: z.number().nullable() }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("Account");

const ExternalId = z.string().trim().min(1).max(200).openapi({ example: "cus_NffrFeUfNV2Hib" });

export const ListAccountsQuery = PageQuery.extend({
  externalId: ExternalId.optional().openapi({ description: "Only the account with this external id" }),
});

export const CreateAccountBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  externalId: ExternalId.optional(),
  plan: z.enum(PLAN_NAMES).default("pro"),
});

export const UpdateAccountBody = z.strictObject({
  name: z.string().trim().min(1).max(100).optional(),
  externalId: ExternalId.nullable().optional(),
  plan: z.enum(PLAN_NAMES).optional(),
  limits: z
    .strictObject({ maxActiveKeys: limit.nullable().optional(), rateLimitPerHour: hourlyLimit.nullable().optional() })
    .optional(),
});

export const AccountEnvelope = z.object({ account: Account });

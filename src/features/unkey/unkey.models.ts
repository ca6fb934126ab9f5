import { z } from "zod";
import { valueNestsDeeper } from "../../lib/json-depth";

/** Unkey's request bodies (`@unkey/api` 2.5.1, the v2 spec's bounds). Times and durations in ms. */
const Id = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[a-zA-Z0-9_]+$/);
const Permission = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[a-zA-Z0-9_:\-.*]+$/);
/** Metadata read with the key on every verify: at most 16 KiB of JSON, 16 levels deep. */
const Meta = z
  .record(z.string(), z.unknown())
  .refine((v) => !valueNestsDeeper(v, 16), "nests deeper than 16 levels")
  .refine((v) => JSON.stringify(v).length <= 16_384, "is larger than 16 KiB of JSON");
const ExternalId = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[a-zA-Z0-9_.-]+$/);

const Credits = z.object({
  remaining: z.number().int().min(0).nullable(),
  refill: z
    .object({
      interval: z.enum(["daily", "monthly"]),
      amount: z.number().int().min(1),
      refillDay: z.number().int().min(1).max(31).optional(),
    })
    .optional(),
});

/** A key's named rate limit: `limit` uses per `duration` ms; `autoApply`: on every verify. */
const NamedLimit = z.object({
  name: z.string().min(3).max(128),
  limit: z.number().int().min(1),
  duration: z.number().int().min(1000).max(2_592_000_000),
  autoApply: z.boolean().default(false),
});
const NamedLimits = z
  .array(NamedLimit)
  .max(50)
  .refine((l) => new Set(l.map((x) => x.name)).size === l.length, "names must differ");

export const CreateApi = z.object({ name: z.string().min(3).max(255) });
export const ApiRef = z.object({ apiId: Id });
export const ListKeys = z.object({
  apiId: Id,
  limit: z.number().int().min(1).max(100).default(100),
  cursor: z.string().max(255).optional(),
  externalId: ExternalId.optional(),
  decrypt: z.boolean().optional(),
  revalidateKeysCache: z.boolean().optional(),
});

export const CreateKey = z.object({
  apiId: Id,
  prefix: z
    .string()
    .min(1)
    .max(16)
    .regex(/^[a-zA-Z0-9_]+$/)
    .optional(),
  name: z.string().min(1).max(255).optional(),
  byteLength: z.number().int().min(16).max(255).optional(),
  externalId: ExternalId.optional(),
  meta: Meta.optional(),
  roles: z.array(z.string().min(1).max(512)).max(100).optional(),
  permissions: z.array(Permission).max(1000).optional(),
  expires: z.number().int().min(0).max(4102444800000).optional(),
  credits: Credits.optional(),
  ratelimits: NamedLimits.optional(),
  enabled: z.boolean().optional(),
  recoverable: z.boolean().optional(),
});

export const VerifyKey = z.object({
  key: z.string().min(1).max(512),
  tags: z.array(z.string().min(1).max(128)).max(20).optional(),
  permissions: z.string().min(1).max(1000).optional(),
  credits: z.object({ cost: z.number().int().min(0).max(1_000_000) }).optional(),
  ratelimits: z
    .array(
      z.object({
        name: z.string().min(1).max(128),
        cost: z.number().int().min(0).optional(),
        limit: z.number().int().min(1).optional(),
        duration: z.number().int().min(1000).max(2_592_000_000).optional(),
      }),
    )
    .max(50)
    .optional(),
  migrationId: z.string().max(255).optional(),
});

export const KeyRef = z.object({ keyId: Id, decrypt: z.boolean().optional() });
export const Whoami = z.object({ key: z.string().min(1).max(512), decrypt: z.boolean().optional() });
export const DeleteKey = z.object({ keyId: Id, permanent: z.boolean().optional() });

/** `null` clears, absent keeps. */
export const UpdateKey = z.object({
  keyId: Id,
  name: z.string().min(1).max(255).nullable().optional(),
  externalId: ExternalId.nullable().optional(),
  meta: Meta.nullable().optional(),
  expires: z.number().int().min(0).max(4102444800000).nullable().optional(),
  credits: Credits.nullable().optional(),
  ratelimits: NamedLimits.optional(),
  enabled: z.boolean().optional(),
  roles: z.array(z.string().min(1).max(512)).max(100).optional(),
  permissions: z.array(Permission).max(1000).optional(),
});

export const UpdateCredits = z.object({
  keyId: Id,
  operation: z.enum(["set", "increment", "decrement"]),
  value: z.number().int().min(0).nullable().optional(),
});

export const RerollKey = z.object({ keyId: Id, expiration: z.number().int().min(0).max(4102444800000) });

export const KeyPermissions = z.object({ keyId: Id, permissions: z.array(Permission).min(1).max(1000) });

export const MigrateKeys = z.object({
  migrationId: z.string().min(1).max(255),
  apiId: Id,
  keys: z
    .array(
      z.object({
        hash: z.string().min(3).max(512),
        name: z.string().min(1).max(255).optional(),
        externalId: ExternalId.optional(),
        meta: Meta.optional(),
        roles: z.array(z.string().min(1).max(512)).max(100).optional(),
        permissions: z.array(Permission).max(1000).optional(),
        expires: z.number().int().min(0).max(4102444800000).optional(),
        enabled: z.boolean().optional(),
        credits: Credits.optional(),
        ratelimits: NamedLimits.optional(),
      }),
    )
    .min(1)
    .max(100),
});

export const Limit = z.object({
  namespace: z.string().min(1).max(512),
  identifier: z.string().min(1).max(512),
  limit: z.number().int().min(1),
  duration: z.number().int().min(1000).max(2_592_000_000),
  cost: z.number().int().min(0).optional(),
});
export const MultiLimit = z.array(Limit).min(1).max(100);

/** Overrides: another limit (0 blocks) and window for one identifier (wildcards are not taken). */
export const SetOverride = z.object({
  namespace: z.string().min(1).max(512),
  identifier: z
    .string()
    .min(1)
    .max(512)
    .refine((s) => !s.includes("*"), "wildcard identifiers are not supported: name each identifier"),
  limit: z.number().int().min(0),
  duration: z.number().int().min(1000).max(2_592_000_000),
});
export const OverrideRef = z.object({ namespace: z.string().min(1).max(512), identifier: z.string().min(1).max(512) });
export const ListOverrides = z.object({
  namespace: z.string().min(1).max(512),
  cursor: z.string().max(512).optional(),
  limit: z.number().int().min(1).max(100).default(100),
});

/** A list's paging: at most `limit`, after `cursor`, optionally those containing `search`. */
const Paging = {
  cursor: z.string().max(512).optional(),
  limit: z.number().int().min(1).max(100).default(100),
  search: z.string().min(1).max(255).optional(),
};

export const CreateIdentity = z.object({
  externalId: ExternalId,
  meta: Meta.optional(),
  ratelimits: NamedLimits.optional(),
});
export const IdentityRef = z.object({ identity: z.string().min(1).max(255) });
export const UpdateIdentity = z.object({
  identity: z.string().min(1).max(255),
  meta: Meta.nullable().optional(),
  ratelimits: NamedLimits.optional(),
});
export const ListIdentities = z.object(Paging);

const Slug = Permission;
export const CreatePermission = z.object({
  name: z.string().min(1).max(512),
  slug: Slug,
  description: z.string().max(512).optional(),
});
export const PermissionRef = z.object({ permission: z.string().min(1).max(512) });
export const ListPermissions = z.object(Paging);
const RoleName = z.string().trim().min(1).max(512);
export const CreateRole = z.object({
  name: RoleName,
  description: z.string().max(512).optional(),
  permissions: z.array(Slug).max(1000).optional(),
});
export const RoleRef = z.object({ role: z.string().min(1).max(512) });
export const ListRoles = z.object(Paging);
export const SetRolePermissions = z.object({
  roleId: z.string().min(1).max(512),
  permissions: z.array(Slug).max(1000),
});
export const KeyRoles = z.object({ keyId: Id, roles: z.array(z.string().min(1).max(512)).max(100) });

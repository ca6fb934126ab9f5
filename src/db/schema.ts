import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Times are unix milliseconds; ids are time-ordered (`acc_…`, `key_…`), so `ORDER BY id` is creation order. */
export const accounts = sqliteTable("accounts", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  plan: text("plan").notNull(),
  /** Per-account overrides of the plan's limits; null = the plan's value. */
  maxActiveKeys: integer("max_active_keys"),
  rateLimitPerHour: integer("rate_limit_per_hour"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id),
    name: text("name").notNull(),
    /** Hex SHA-256 of the full key: the only stored form of the secret. */
    hash: text("hash").notNull(),
    /** The secret replaced by the last rotation, accepted until `previousHashExpiresAt`. */
    previousHash: text("previous_hash"),
    previousHashExpiresAt: integer("previous_hash_expires_at"),
    prefix: text("prefix").notNull(),
    last4: text("last4").notNull(),
    /** JSON array of permissions; null = never set (legacy full access), "[]" = none. */
    scopes: text("scopes"),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    rateLimitPerHour: integer("rate_limit_per_hour"),
    metadata: text("metadata").notNull().default("{}"),
    /** JSON `{type, id, name}` of the principal that created the key. */
    createdBy: text("created_by").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [
    uniqueIndex("api_keys_hash_idx").on(t.hash),
    index("api_keys_previous_hash_idx")
      .on(t.previousHash)
      .where(sql`previous_hash IS NOT NULL`),
    index("api_keys_account_idx").on(t.accountId, t.id),
  ],
);

export type AccountRow = typeof accounts.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;

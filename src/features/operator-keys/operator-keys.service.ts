import type { z } from "@hono/zod-openapi";
import type { Settings } from "../../config";
import type { OperatorKeyRow } from "../../db/schema";
import type { AuditContext } from "../../lib/caller";
import { sha256Hex } from "../../lib/crypto";
import { newId } from "../../lib/encoding";
import { ApiError } from "../../lib/errors";
import { describe } from "../../lib/log";
import { assertCanGrant } from "../../lib/permissions";
import type { Principal } from "../../lib/principal";
import { found, iso, isoOrNull, page } from "../../lib/schemas";
import type { Platform } from "../../platform";
import { auditRow, DEPLOYMENT_LOG, diff } from "../audit/audit.service";
import { checksummedSecret, hasValidChecksum } from "../keys/key-format";
import * as repo from "./operator-keys.repo";
import type { CreateOperatorKeyBody, OperatorKey, UpdateOperatorKeyBody } from "./operator-keys.schemas";

const TAG = "op";
const SECRET_CHARS = 38; // 32 random base62 and the 6-character checksum
const PREFIX_RANDOM_CHARS = 4;
const TOUCH_EVERY_MS = 60 * 60 * 1000;

const headOf = (settings: Settings) => `${settings.keyPrefix}_${TAG}_`;

/** Whether a credential is meant as an operator key (`kh_op_…`): by its tag, before any other shape. */
export const looksLikeOperatorKey = (credential: string, settings: Settings) => credential.startsWith(headOf(settings));

/** Tag, shape and checksum: a mistyped or made-up operator key never reaches D1. */
function isWellFormed(credential: string, settings: Settings) {
  const head = headOf(settings);
  return (
    credential.length === head.length + SECRET_CHARS &&
    /^[0-9A-Za-z]+$/.test(credential.slice(head.length)) &&
    hasValidChecksum(credential)
  );
}

const statusOf = (row: OperatorKeyRow, now: number) =>
  row.revokedAt !== null ? "revoked" : row.expiresAt !== null && row.expiresAt <= now ? "expired" : "active";

function toOperatorKey(row: OperatorKeyRow, now: number): z.infer<typeof OperatorKey> {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    last4: row.last4,
    scopes: row.scopes,
    status: statusOf(row, now),
    expiresAt: isoOrNull(row.expiresAt),
    revokedAt: isoOrNull(row.revokedAt),
    lastUsedAt: isoOrNull(row.lastUsedAt),
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}

const audited = ({ name, scopes, expiresAt, revokedAt }: OperatorKeyRow) => ({
  name,
  scopes,
  expiresAt: isoOrNull(expiresAt),
  revokedAt: isoOrNull(revokedAt),
});

/** Who manages operator keys: the operator token, or an operator key holding what it grants. */
export interface OperatorKeyCaller {
  audit: AuditContext;
  permissions: readonly string[];
}

/**
 * Operator keys: deployment-level credentials beside `ADMIN_TOKEN` (the bootstrap one), each with
 * its scopes, revocable; every change is written in the deployment's log with the change itself.
 * A request with one reads its row (one D1 read by its hash): a revocation refuses the next request.
 */
export function createOperatorKeysService(platform: Platform) {
  const { db, settings, now, waitUntil } = platform;

  const entry = (caller: OperatorKeyCaller, action: string, before: OperatorKeyRow | null, after: OperatorKeyRow) =>
    auditRow(
      caller.audit,
      DEPLOYMENT_LOG,
      action,
      { type: "operator_key", id: after.id, name: after.name },
      diff(before && audited(before), audited(after)),
      after.updatedAt,
    );

  const load = async (id: string) => found(await repo.findKey(db, id), "Operator key");

  async function change(
    caller: OperatorKeyCaller,
    before: OperatorKeyRow,
    changes: Partial<OperatorKeyRow>,
    action: string,
  ) {
    const at = Math.max(now(), before.updatedAt + 1);
    const after: OperatorKeyRow = { ...before, ...changes, updatedAt: at };
    const row = found(await repo.updateKey(db, after, entry(caller, action, before, after)), "Operator key");
    return toOperatorKey(row, at);
  }

  return {
    /**
     * The principal of an operator key, acting in `accountId` (`X-Account-Id`) within its scopes;
     * a revoked, expired or unknown key is 401. `lastUsedAt` is written at most once an hour.
     */
    async identify(credential: string, accountId: string | null): Promise<Principal> {
      const at = now();
      const row = isWellFormed(credential, settings)
        ? await repo.findByHash(db, await sha256Hex(credential))
        : undefined;
      if (!row) throw new ApiError("invalid_credentials", "Invalid credentials");
      const status = statusOf(row, at);
      if (status !== "active") throw new ApiError("invalid_credentials", `This operator key is ${status}`);
      if (row.lastUsedAt === null || at - row.lastUsedAt >= TOUCH_EVERY_MS) {
        waitUntil(
          repo
            .touchKey(db, row.id, at)
            .catch((err) => platform.log("warn", "operator_key_touch_failed", { error: describe(err) })),
        );
      }
      return { type: "operator", id: row.id, name: row.name, accountId, permissions: row.scopes };
    },

    async create(caller: OperatorKeyCaller, input: z.infer<typeof CreateOperatorKeyBody>) {
      assertCanGrant(caller.permissions, input.scopes);
      const at = now();
      const expiresAt = input.expiresAt ? Date.parse(input.expiresAt) : null;
      if (expiresAt !== null && expiresAt <= at) {
        throw new ApiError("validation_failed", "expiresAt must be in the future", [
          { path: "expiresAt", message: "in the past" },
        ]);
      }
      const key = checksummedSecret(headOf(settings));
      const row: OperatorKeyRow = {
        id: newId("opk", at),
        name: input.name,
        keyHash: await sha256Hex(key),
        prefix: key.slice(0, headOf(settings).length + PREFIX_RANDOM_CHARS),
        last4: key.slice(-4),
        scopes: [...new Set(input.scopes)],
        expiresAt,
        revokedAt: null,
        lastUsedAt: null,
        createdBy: caller.audit.actor,
        createdAt: at,
        updatedAt: at,
      };
      await repo.insertKey(db, row, entry(caller, "operator_key.created", null, row));
      return { operatorKey: toOperatorKey(row, at), key };
    },

    async list(limit: number, cursor: string | undefined) {
      const at = now();
      const { items, nextCursor } = page(await repo.listKeys(db, limit + 1, cursor), limit);
      return { operatorKeys: items.map((row) => toOperatorKey(row, at)), nextCursor };
    },

    get: async (id: string) => toOperatorKey(await load(id), now()),

    async update(caller: OperatorKeyCaller, id: string, input: z.infer<typeof UpdateOperatorKeyBody>) {
      if (input.scopes) assertCanGrant(caller.permissions, input.scopes);
      const before = await load(id);
      if (before.revokedAt !== null) throw new ApiError("conflict", "This operator key is revoked");
      return change(
        caller,
        before,
        {
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.scopes ? { scopes: [...new Set(input.scopes)] } : {}),
        },
        "operator_key.updated",
      );
    },

    /** Refused from the next request on; the row stays (lists and the log name it). Revoking twice is a no-op. */
    async revoke(caller: OperatorKeyCaller, id: string) {
      const before = await load(id);
      if (before.revokedAt !== null) return toOperatorKey(before, now());
      assertCanGrant(caller.permissions, before.scopes);
      return change(caller, before, { revokedAt: now() }, "operator_key.revoked");
    },
  };
}

export type OperatorKeysService = ReturnType<typeof createOperatorKeysService>;

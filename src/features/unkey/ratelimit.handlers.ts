import type { z } from "zod";
import type { RatelimitOverrideRow } from "../../db/schema";
import { newId } from "../../lib/encoding";
import { ApiError } from "../../lib/errors";
import type { Changes } from "../audit/audit.service";
import { audited, body, type C, type Op, ok, paged, present } from "./unkey.handlers";
import * as m from "./unkey.models";
import * as repo from "./unkey.repo";

/**
 * Unkey's named rate limits (`ratelimit.*`, `@unkey/ratelimit`): a `NamedLimiter` Durable Object
 * per account, namespace and identifier — exact, any window from 1 s to 30 days. An override
 * (`setOverride`) is kept twice: in D1, which lists it, and in the identifier's object, which
 * applies it — so a limited request reads nothing but its object.
 */
/**
 * The object of an identifier: of a namespace of `ratelimit.*`, or (`own`) of a key's or an
 * identity's named limit, counted by verify — a name no `ratelimit.*` call can reach or override.
 */
function limiterOf(c: C, namespace: string, identifier: string, own = false) {
  const { limiter } = c.var.services.platform;
  if (!limiter) throw new ApiError("service_unavailable", "No LIMITER binding: see wrangler.toml");
  const name = [c.var.accountId, namespace, identifier, ...(own ? ["own"] : [])];
  return limiter.get(limiter.idFromName(JSON.stringify(name)));
}

/** One use (or `cost`) of `identifier` in `namespace`, if it fits its window (`own`: see limiterOf). */
export const limitOne = (c: C, input: z.infer<typeof m.Limit>, own = false) =>
  limiterOf(c, input.namespace, input.identifier, own).limit(
    c.var.services.platform.now(),
    input.limit,
    input.duration,
    input.cost ?? 1,
  );

const overrideData = (o: RatelimitOverrideRow) => ({
  overrideId: o.id,
  duration: o.duration,
  identifier: o.identifier,
  limit: o.limit,
});

export function registerRatelimit(op: Op) {
  op("ratelimit.limit", "keys:verify", async (c) => {
    const a = await limitOne(c, await body(c, m.Limit));
    return ok(
      c,
      present({ limit: a.limit, remaining: a.remaining, reset: a.reset, success: a.success, overrideId: a.overrideId }),
    );
  });
  op("ratelimit.multiLimit", "keys:verify", async (c) => {
    const inputs = await body(c, m.MultiLimit);
    const limits = await Promise.all(
      inputs.map(async (input) => {
        const a = await limitOne(c, input);
        return present({
          namespace: input.namespace,
          identifier: input.identifier,
          limit: a.limit,
          remaining: a.remaining,
          reset: a.reset,
          passed: a.success,
          overrideId: a.overrideId,
        });
      }),
    );
    return ok(c, { passed: limits.every((l) => l.passed), limits });
  });

  const found = async (c: C, input: z.infer<typeof m.OverrideRef>) => {
    const row = await repo.findOverride(c.var.services.platform.db, c.var.accountId, input.namespace, input.identifier);
    if (!row) throw new ApiError("not_found", `No override for ${input.identifier} in ${input.namespace}`);
    return row;
  };
  const audit = (c: C, action: string, row: RatelimitOverrideRow, changes: Changes | null) =>
    audited(c, action, { type: "ratelimit_override", id: row.id, name: `${row.namespace}/${row.identifier}` }, changes);

  op("ratelimit.setOverride", "keys:write", async (c) => {
    const input = await body(c, m.SetOverride);
    const { db, now } = c.var.services.platform;
    const at = now();
    const before = await repo.findOverride(db, c.var.accountId, input.namespace, input.identifier);
    const row: RatelimitOverrideRow = {
      id: before?.id ?? newId("rlo", at),
      accountId: c.var.accountId,
      namespace: input.namespace,
      identifier: input.identifier,
      limit: input.limit,
      duration: input.duration,
      createdAt: before?.createdAt ?? at,
    };
    const changes = {
      limit: { before: before?.limit ?? null, after: row.limit },
      duration: { before: before?.duration ?? null, after: row.duration },
    };
    const stored = await repo.upsertOverride(db, row, audit(c, "ratelimit_override.set", row, changes));
    // The record first: an override that failed to reach its object is listed, and setting it again mends it.
    await limiterOf(c, input.namespace, input.identifier).setOverride(stored.id, stored.limit, stored.duration);
    return ok(c, { overrideId: stored.id });
  });
  op("ratelimit.getOverride", "keys:read", async (c) =>
    ok(c, overrideData(await found(c, await body(c, m.OverrideRef)))),
  );
  op("ratelimit.listOverrides", "keys:read", async (c) => {
    const input = await body(c, m.ListOverrides);
    const { db } = c.var.services.platform;
    const rows = await repo.listOverrides(db, c.var.accountId, input.namespace, input.limit + 1, input.cursor);
    return paged(c, rows, input.limit, (r) => r.identifier, overrideData);
  });
  op("ratelimit.deleteOverride", "keys:write", async (c) => {
    const input = await body(c, m.OverrideRef);
    const row = await found(c, input);
    // The object first: once the record is gone nothing would say the object still holds it.
    await limiterOf(c, input.namespace, input.identifier).clearOverride();
    await repo.deleteOverride(c.var.services.platform.db, row.id, audit(c, "ratelimit_override.deleted", row, null));
    return ok(c, {});
  });
}

import type { IdentityRow, NamedRateLimit } from "../../db/schema";
import { newId } from "../../lib/encoding";
import { ApiError, uniqueWrite } from "../../lib/errors";
import type { Changes } from "../audit/audit.service";
import type { KeyIdentity } from "../auth/auth.repo";
import { identityTag } from "../edge/records";
import { audited, body, type C, type Op, ok, paged, present } from "./unkey.handlers";
import * as m from "./unkey.models";
import * as repo from "./unkey.repo";

/**
 * Unkey's identities (`identities.*`): an account's customer by its `externalId`, with metadata
 * and named rate limits its keys share — counted once per identity, whichever key is verified.
 * A key given an `externalId` makes its identity if there is none. A change purges the records
 * of its keys at the edge (`i:<account>:<externalId>`), so verification sees it on the next request.
 */
export const limitsOf = (limits: NamedRateLimit[] | null | undefined) =>
  limits && limits.length > 0 ? limits.map((l) => ({ id: l.name, ...l })) : undefined;

/** An identity as Unkey's `Identity`. */
export const identityData = (row: Pick<IdentityRow, "id" | "externalId" | "meta" | "ratelimits"> | KeyIdentity) =>
  present({
    id: row.id,
    externalId: row.externalId,
    meta: row.meta && Object.keys(row.meta).length > 0 ? row.meta : undefined,
    ratelimits: limitsOf(row.ratelimits),
  });

async function found(c: C, ref: string) {
  const row = await repo.findIdentity(c.var.services.platform.db, c.var.accountId, ref);
  if (!row) throw new ApiError("not_found", `The identity ${ref} does not exist`);
  return row;
}

const audit = (c: C, action: string, row: IdentityRow, changes: Changes | null) =>
  audited(c, action, { type: "identity", id: row.id, name: row.externalId }, changes);

const purge = (c: C, row: IdentityRow) => c.var.services.edge.invalidate([identityTag(row.accountId, row.externalId)]);

export function registerIdentities(op: Op) {
  op("identities.createIdentity", "keys:write", async (c) => {
    const input = await body(c, m.CreateIdentity);
    const { db, now } = c.var.services.platform;
    const at = now();
    const row: IdentityRow = {
      id: newId("id", at),
      accountId: c.var.accountId,
      externalId: input.externalId,
      meta: input.meta ?? null,
      ratelimits: input.ratelimits && input.ratelimits.length > 0 ? input.ratelimits : null,
      createdAt: at,
      updatedAt: at,
    };
    await uniqueWrite(
      repo.insertIdentity(db, row, audit(c, "identity.created", row, null)),
      "identities.account_id, identities.external_id",
      () => new ApiError("conflict", `An identity with the externalId ${input.externalId} exists`),
    );
    // A key with this externalId may have been cached without it.
    await purge(c, row);
    return ok(c, { identityId: row.id });
  });
  op("identities.getIdentity", "keys:read", async (c) => {
    return ok(c, identityData(await found(c, (await body(c, m.IdentityRef)).identity)));
  });
  op("identities.listIdentities", "keys:read", async (c) => {
    const input = await body(c, m.ListIdentities);
    const rows = await repo.listIdentities(
      c.var.services.platform.db,
      c.var.accountId,
      input.limit + 1,
      input.cursor,
      input.search,
    );
    return paged(c, rows, input.limit, (r) => r.externalId, identityData);
  });
  op("identities.updateIdentity", "keys:write", async (c) => {
    const input = await body(c, m.UpdateIdentity);
    const row = await found(c, input.identity);
    const { db, now } = c.var.services.platform;
    const changes = present({
      meta: input.meta === undefined ? undefined : input.meta,
      ratelimits: input.ratelimits === undefined ? undefined : input.ratelimits.length > 0 ? input.ratelimits : null,
    });
    const diff = Object.fromEntries(
      Object.entries(changes).map(([k, after]) => [k, { before: row[k as keyof IdentityRow], after }]),
    );
    const updated = await repo.updateIdentity(
      db,
      row.id,
      { ...changes, updatedAt: now() },
      audit(c, "identity.updated", row, diff),
    );
    await purge(c, row);
    return ok(c, identityData(updated ?? row));
  });
  op("identities.deleteIdentity", "keys:write", async (c) => {
    const row = await found(c, (await body(c, m.IdentityRef)).identity);
    const { db, now } = c.var.services.platform;
    await repo.deleteIdentity(db, row, now(), audit(c, "identity.deleted", row, null));
    await purge(c, row);
    return c.json({ meta: { requestId: c.var.requestId ?? "" } }, 200);
  });
}

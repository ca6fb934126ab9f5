import { describe, expect, it } from "vitest";
import { ADMIN, call } from "./helpers/api";

const op = { token: ADMIN };
const create = (body: Record<string, unknown>) =>
  call("POST", "/v1/accounts", { ...op, body: { name: "Acme", ...body } });

describe("accounts carry the host's own customer id", () => {
  it("externalId is unique, found with GET /v1/accounts?externalId=, changed and cleared by PATCH, audited", async () => {
    const id = `cus_${crypto.randomUUID()}`;
    const made = await create({ externalId: id });
    expect(made.status).toBe(201);
    expect(made.body.account.externalId).toBe(id);
    const found = await call("GET", `/v1/accounts?externalId=${encodeURIComponent(id)}`, op);
    expect(found.body.accounts.map((a: { id: string }) => a.id)).toEqual([made.body.account.id]);
    expect((await call("GET", "/v1/accounts?externalId=cus_nobody", op)).body.accounts).toEqual([]);

    const twice = await create({ externalId: id });
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe("conflict");

    const other = await create({ externalId: `${id}-2` });
    const taken = await call("PATCH", `/v1/accounts/${other.body.account.id}`, { ...op, body: { externalId: id } });
    expect(taken.status).toBe(409);
    const cleared = await call("PATCH", `/v1/accounts/${made.body.account.id}`, { ...op, body: { externalId: null } });
    expect(cleared.body.account.externalId).toBeNull();
    expect(
      (await call("PATCH", `/v1/accounts/${other.body.account.id}`, { ...op, body: { externalId: id } })).status,
    ).toBe(200);

    const log = await call("GET", `/v1/audit-log?targetId=${made.body.account.id}`, {
      ...op,
      accountId: made.body.account.id,
    });
    const changes = log.body.entries.map(
      (e: { changes: Record<string, { after: unknown }> | null }) => e.changes?.externalId,
    );
    expect(changes.filter(Boolean)).toEqual([
      { before: id, after: null },
      { before: null, after: id },
    ]);
  });

  it("a deleted account frees its externalId; bad values are 400", async () => {
    const id = `cus_${crypto.randomUUID()}`;
    const first = await create({ externalId: id });
    expect((await call("DELETE", `/v1/accounts/${first.body.account.id}`, op)).status).toBe(200);
    expect((await create({ externalId: id })).status).toBe(201);
    expect((await create({ externalId: "" })).status).toBe(400);
    expect((await create({ externalId: "x".repeat(201) })).status).toBe(400);
    expect((await call("GET", "/v1/accounts?externalId=", op)).status).toBe(400);
  });
});

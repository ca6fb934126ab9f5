import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, call, createAccount } from "./helpers/api";
import { createWebhook, publish, uniqueName, waitForReceived } from "./helpers/webhooks";

const as = (accountId: string) => ({ token: ADMIN, accountId });

const INVOICE_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  required: ["id", "amount", "customer"],
  properties: {
    id: { type: "string", pattern: "^inv_" },
    amount: { type: "integer", minimum: 0 },
    currency: { enum: ["eur", "usd"] },
    customer: { type: "object", required: ["email"], properties: { email: { type: "string" } } },
    lines: { type: "array", prefixItems: [{ type: "string" }], items: { type: "number" } },
  },
  additionalProperties: false,
};
const EXAMPLE = { id: "inv_1", amount: 1200, currency: "eur", customer: { email: "a@example.com" } };

async function register(accountId: string, body: Record<string, unknown>) {
  return call("POST", "/v1/event-types", { ...as(accountId), body });
}

describe("the typed event catalog", () => {
  it("keeps a schema, examples, a group and flags; fields left out keep their value", async () => {
    const account = await createAccount();
    const created = await register(account.id, {
      name: "invoice.paid",
      description: "An invoice was paid",
      group: "billing",
      schema: INVOICE_SCHEMA,
      examples: [EXAMPLE, { ...EXAMPLE, id: "inv_2", currency: "usd" }],
      validate: true,
    });
    expect(created.status).toBe(201);
    expect(created.body.eventType).toMatchObject({
      name: "invoice.paid",
      group: "billing",
      schema: INVOICE_SCHEMA,
      validate: true,
      deprecated: false,
      archived: false,
      builtIn: false,
      example: EXAMPLE,
    });
    expect(created.body.eventType.examples).toHaveLength(2);

    const changed = await register(account.id, { name: "invoice.paid", deprecated: true });
    expect(changed.body.eventType).toMatchObject({ group: "billing", validate: true, deprecated: true });
    expect(changed.body.eventType.schema).toEqual(INVOICE_SCHEMA);
    const one = await call("GET", "/v1/event-types/invoice.paid", as(account.id));
    expect(one.body.eventType.deprecated).toBe(true);
    expect((await call("GET", "/v1/event-types/nothing.here", as(account.id))).status).toBe(404);

    // Archived: left out of the catalog unless asked for.
    await register(account.id, { name: "invoice.voided", archived: true });
    const names = async (q = "") =>
      (await call("GET", `/v1/event-types${q}`, as(account.id))).body.eventTypes.map((t: any) => t.name);
    expect(await names()).toContain("invoice.paid");
    expect(await names()).not.toContain("invoice.voided");
    expect(await names("?includeArchived=true")).toContain("invoice.voided");
    const builtIn = (await call("GET", "/v1/event-types/api_key.created", as(account.id))).body.eventType;
    expect(builtIn).toMatchObject({ builtIn: true, group: "Keyhook" });
    expect((await register(account.id, { name: "api_key.created", description: "mine" })).status).toBe(409);
  });

  it.each([
    [{ schema: { type: "object", $schema: "http://json-schema.org/draft-07/schema#" } }, "schema.$schema"],
    [{ schema: { $ref: "#/$defs/missing" } }, "schema"],
    [
      { schema: { type: "object", properties: { a: { type: "string", pattern: "(" } } } },
      "schema.properties.a.pattern",
    ],
    [{ schema: INVOICE_SCHEMA, examples: [{ id: "x1", amount: 1, customer: { email: "e" } }] }, "examples.0.id"],
    [{ schema: INVOICE_SCHEMA, example: { ...EXAMPLE, extra: true } }, "examples.0.extra"],
    [{ validate: true }, "validate"],
  ])("refuses a bad schema or example with 400 naming the path (%j)", async (body, path) => {
    const account = await createAccount();
    const res = await register(account.id, { name: "invoice.paid", ...body });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    expect(res.body.error.details.map((d: any) => d.path)).toContain(path);
  });

  it("publish checks the entity against the schema when the type asks, naming the failing path", async () => {
    const account = await createAccount();
    const name = uniqueName();
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}`, events: ["invoice.paid"] });
    await register(account.id, { name: "invoice.paid", schema: INVOICE_SCHEMA, validate: false });
    // Not asked to validate yet: anything goes.
    expect((await publish(account.id, { type: "invoice.paid", entity: { anything: 1 } })).status).toBe(202);

    await register(account.id, { name: "invoice.paid", validate: true });
    const bad = await publish(account.id, {
      type: "invoice.paid",
      entity: { ...EXAMPLE, amount: -5, customer: { email: 7 } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("validation_failed");
    const paths = bad.body.error.details.map((d: any) => d.path);
    expect(paths).toEqual(expect.arrayContaining(["entity.amount", "entity.customer.email"]));
    expect(bad.body.error.message).toContain("invoice.paid");
    const extra = await publish(account.id, { type: "invoice.paid", entity: { ...EXAMPLE, note: "x" } });
    expect(extra.body.error.details).toEqual([
      { path: "entity.note", message: "is not allowed by the event type's schema" },
    ]);
    // Nothing refused was stored or sent.
    const log = await call("GET", "/v1/events?type=invoice.paid&limit=10", as(account.id));
    expect(log.body.events).toHaveLength(1);

    const good = await publish(account.id, { type: "invoice.paid", entity: EXAMPLE });
    expect(good.status).toBe(202);
    const received = await waitForReceived(name, 2);
    expect(JSON.parse(received[1]!.body).entity).toEqual(EXAMPLE);

    // Turned off again: the next publish is not checked (the change reaches publishing at once).
    await register(account.id, { name: "invoice.paid", validate: false });
    expect((await publish(account.id, { type: "invoice.paid", entity: { amount: "many" } })).status).toBe(202);
    // Other types of the account are never checked.
    expect((await publish(account.id, { type: "invoice.created", entity: { amount: "many" } })).status).toBe(202);
  });

  it("a schema change reaches an isolate that cached the old one (the webhooks version moves)", async () => {
    const account = await createAccount();
    await register(account.id, { name: "invoice.paid", schema: INVOICE_SCHEMA, validate: true });
    expect((await publish(account.id, { type: "invoice.paid", entity: EXAMPLE })).status).toBe(202);
    // Another isolate changes the schema: here, a write straight to D1 with the version bump it makes.
    await env.DB.batch([
      env.DB.prepare("UPDATE event_types SET schema = ? WHERE account_id = ? AND name = 'invoice.paid'").bind(
        JSON.stringify({ ...INVOICE_SCHEMA, required: ["id", "amount", "customer", "currency", "due"] }),
        account.id,
      ),
      env.DB.prepare("UPDATE accounts SET webhooks_version = webhooks_version + 1 WHERE id = ?").bind(account.id),
    ]);
    const res = await publish(account.id, { type: "invoice.paid", entity: EXAMPLE });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain("due");
  });

  it("serves the catalog as an OpenAPI document with a webhooks section; 'send example' sends the example", async () => {
    const account = await createAccount();
    await register(account.id, {
      name: "invoice.paid",
      description: "An invoice was paid",
      group: "billing",
      schema: INVOICE_SCHEMA,
      examples: [EXAMPLE],
      deprecated: true,
    });
    await register(account.id, { name: "invoice.voided", archived: true });
    const doc = (await call("GET", "/v1/catalog/openapi.json", as(account.id))).body;
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.webhooks)).toContain("invoice.paid");
    expect(Object.keys(doc.webhooks)).toContain("api_key.created");
    expect(Object.keys(doc.webhooks)).not.toContain("invoice.voided");
    const op = doc.webhooks["invoice.paid"].post;
    expect(op).toMatchObject({ tags: ["billing"], deprecated: true, description: "An invoice was paid" });
    const body = op.requestBody.content["application/json"];
    expect(body.schema.properties.entity).toEqual(INVOICE_SCHEMA);
    expect(body.schema.properties.event).toEqual({ type: "string", const: "invoice.paid" });
    expect(body.examples.example1.value.entity).toEqual(EXAMPLE);
    expect(op.parameters.map((p: any) => p.name)).toEqual(["webhook-id", "webhook-timestamp", "webhook-signature"]);
    // The deployment's own document lists Keyhook's types the same way.
    const own = (await call("GET", "/openapi.json", {})).body;
    expect(own.webhooks["webhook.disabled"].post.requestBody).toBeTruthy();

    // "Send example": a test send of the type carries the catalog's example.
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    const sent = await call("POST", `/v1/webhooks/${webhook.id}/test`, {
      ...as(account.id),
      body: { event: "invoice.paid" },
    });
    expect(sent.status).toBe(202);
    const [req] = await waitForReceived(name, 1);
    expect(JSON.parse(req!.body)).toMatchObject({ event: "invoice.paid", entity: { ...EXAMPLE, test: true } });
  });
});

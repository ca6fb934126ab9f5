import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH } from "../src/lib/json-depth";
import { ADMIN, call, createAccount, createKey } from "./helpers/api";
import { createWebhook, publish, uniqueName } from "./helpers/webhooks";

const as = (accountId: string) => ({ token: ADMIN, accountId });

/** `[[[…1…]]]`, `depth` arrays deep, as JSON text. */
const deepArray = (depth: number) => `${"[".repeat(depth)}1${"]".repeat(depth)}`;
/** `{"not":{"not":…{}…}}`, `depth` objects deep, as JSON text. */
const deepSchema = (depth: number) => `${'{"not":'.repeat(depth - 1)}{}${"}".repeat(depth - 1)}`;

/** A request's answer and how long it took, from `since` (the moment it was meant to go). */
async function timed<T>(since: number, request: Promise<T>) {
  const answer = await request;
  return { answer, ms: Date.now() - since };
}

const CATASTROPHIC = {
  type: "object",
  properties: { v: { type: "string", pattern: "^(a+)+$" } },
};

describe("a tenant's schema cannot hold the Worker", () => {
  it("the issue's pattern: registered, a hostile publish answers 400 at once, and another account is answered meanwhile", async () => {
    const attacker = await createAccount();
    const bystander = await createAccount();
    const { key: bystanderKey } = await createKey(bystander.id);
    const registered = await call("POST", "/v1/event-types", {
      ...as(attacker.id),
      body: { name: "slow.thing", validate: true, schema: CATASTROPHIC },
    });
    expect(registered.status).toBe(201);

    // V8's backtracking engine takes ~6 s on 30 a's and a "!" (~100 s on 34): on this isolate, every
    // request waits behind it. Each bystander request is timed from when it was meant to go.
    const start = Date.now();
    const hostile = timed(start, publish(attacker.id, { type: "slow.thing", entity: { v: `${"a".repeat(30)}!` } }));
    let settled = false;
    void hostile.then(() => {
      settled = true;
    });
    const bystanderTimes: number[] = [];
    do {
      const sent = Date.now();
      const { answer, ms } = await timed(sent, call("GET", "/v1/whoami", { apiKey: bystanderKey }));
      expect(answer.status).toBe(200);
      bystanderTimes.push(ms);
    } while (!settled);
    const { answer, ms } = await hostile;
    expect(answer.status).toBe(400);
    expect(answer.body.error.details).toEqual([{ path: "entity.v", message: expect.stringContaining("pattern") }]);
    // Generous bounds for a loaded machine; the backtracking engine took seconds for each.
    expect(ms).toBeLessThan(2000);
    expect(Math.max(...bystanderTimes)).toBeLessThan(2000);

    // The longest string an entity can carry is as quick, and a matching one passes.
    const long = await publish(attacker.id, { type: "slow.thing", entity: { v: `${"a".repeat(60_000)}!` } });
    expect(long.status).toBe(400);
    const good = await publish(attacker.id, { type: "slow.thing", entity: { v: "a".repeat(60_000) } });
    expect(good.status).toBe(202);
  });

  it("patterns run with ECMAScript's meaning; those that need backtracking are refused with the path", async () => {
    const account = await createAccount();
    const register = (name: string, schema: unknown) =>
      call("POST", "/v1/event-types", { ...as(account.id), body: { name, validate: true, schema } });
    const ok = await register("unicode.thing", {
      type: "object",
      properties: { name: { pattern: "^\\p{L}+\\s\\p{L}+$" }, id: { pattern: "^inv_\\u{1F600}?" } },
      patternProperties: { "^x-[a-z]+$": { type: "integer" } },
    });
    expect(ok.status).toBe(201);
    expect((await publish(account.id, { type: "unicode.thing", entity: { name: "Zoë\u00a0Ünal" } })).status).toBe(202);
    const bad = await publish(account.id, { type: "unicode.thing", entity: { name: "Zoë", "x-amount": "1" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      "entity.name",
      "entity.x-amount",
    ]);

    for (const [pattern, why] of [
      ["(a)\\1", "backreference"],
      ["^(?=a)", "lookahead"],
      ["(?<=a)b", "lookbehind"],
      ["a{6000}", "over 5000"],
      ["(", "not a valid regular expression"],
      ["x".repeat(1001), "longer than 1000"],
    ]) {
      const refused = await register("refused.thing", { properties: { v: { pattern } } });
      expect(refused.status).toBe(400);
      expect(refused.body.error.details[0].path).toBe("schema.properties.v.pattern");
      expect(refused.body.error.message).toContain(why);
    }
    const key = await register("refused.thing", { patternProperties: { "(a)\\1": {} } });
    expect(key.body.error.details[0].path).toBe("schema.patternProperties.(a)\\1");
  });

  it("what a check may cost is bounded: $ref fan-out, wide schemas, uniqueItems, format", async () => {
    const account = await createAccount();
    const register = (name: string, schema: unknown, validate = true) =>
      call("POST", "/v1/event-types", { ...as(account.id), body: { name, validate, schema } });
    // Each level applies the next twice: 2^40 applications.
    const $defs: Record<string, unknown> = { d40: { type: "string" } };
    for (let i = 0; i < 40; i++)
      $defs[`d${i}`] = { allOf: [{ $ref: `#/$defs/d${i + 1}` }, { $ref: `#/$defs/d${i + 1}` }] };
    expect((await register("fan.out", { $defs, properties: { x: { $ref: "#/$defs/d0" } } })).status).toBe(201);
    const fanned = await publish(account.id, { type: "fan.out", entity: { x: "s" } });
    expect(fanned.status).toBe(400);
    expect(fanned.body.error.message).toContain("50,000 steps");

    // No $ref: 2,000 subschemas applied to each of 30,000 items.
    const wide = { properties: { list: { items: { allOf: Array.from({ length: 2000 }, () => ({ minimum: 0 })) } } } };
    expect((await register("wide.thing", wide)).status).toBe(201);
    const list = Array.from({ length: 30_000 }, (_, i) => i % 10);
    const widened = await publish(account.id, { type: "wide.thing", entity: { list } });
    expect(widened.status).toBe(400);
    expect(widened.body.error.details).toEqual([{ path: "schema", message: expect.stringContaining("steps") }]);

    // A cycle of $refs that never reads the entity deeper.
    expect(
      (await register("loop.thing", { properties: { x: { $ref: "#/$defs/a" } }, $defs: { a: { $ref: "#/$defs/a" } } }))
        .status,
    ).toBe(201);
    const looped = await publish(account.id, { type: "loop.thing", entity: { x: 1 } });
    expect(looped.status).toBe(400);

    // uniqueItems compares every pair: a small array is checked, a huge one costs too much.
    expect((await register("unique.thing", { properties: { tags: { uniqueItems: true } } })).status).toBe(201);
    expect((await publish(account.id, { type: "unique.thing", entity: { tags: ["a", "b"] } })).status).toBe(202);
    expect((await publish(account.id, { type: "unique.thing", entity: { tags: ["a", "a"] } })).status).toBe(400);
    const many = Array.from({ length: 12_000 }, (_, i) => i);
    expect((await publish(account.id, { type: "unique.thing", entity: { tags: many } })).status).toBe(400);

    // `format` is an annotation (draft 2020-12's default): the library's own `url` check backtracks.
    expect((await register("url.thing", { properties: { u: { type: "string", format: "url" } } })).status).toBe(201);
    const url = await publish(account.id, { type: "url.thing", entity: { u: `http://${"a".repeat(40)}!` } });
    expect(url.status).toBe(202);
  });
});

describe("one depth limit for JSON", () => {
  it("a 30,000-deep entity and a 3,000-deep schema are 400 naming the limit", async () => {
    const account = await createAccount();
    const entity = await call("POST", "/v1/events", {
      ...as(account.id),
      body: `{"type":"deep.thing","entity":{"a":${deepArray(30_000)}}}`,
    });
    expect(entity.status).toBe(400);
    expect(entity.body.error).toMatchObject({
      code: "validation_failed",
      details: [{ path: "body", message: `nests deeper than ${MAX_JSON_DEPTH} levels, Keyhook's limit for JSON` }],
    });
    const schema = await call("POST", "/v1/event-types", {
      ...as(account.id),
      body: `{"name":"deep.thing","schema":${deepSchema(3000)}}`,
    });
    expect(schema.status).toBe(400);
    expect(schema.body.error.message).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it("the limit is the same on every route, with or without a charset, and exactly 64", async () => {
    const account = await createAccount();
    // The body is one level: an entity may nest 63 more.
    const at = (depth: number) => `{"type":"deep.thing","entity":{"a":${deepArray(depth - 2)}}}`;
    const headers = { "content-type": "application/json; charset=utf-8" };
    expect((await call("POST", "/v1/events", { ...as(account.id), headers, body: at(64) })).status).toBe(202);
    expect((await call("POST", "/v1/events", { ...as(account.id), headers, body: at(65) })).status).toBe(400);
    const deep = deepArray(100);
    const routes: [string, string, string][] = [
      ["POST", "/v1/api-keys", `{"name":"k","metadata":{"a":${deep}}}`],
      [
        "POST",
        "/v1/webhooks",
        `{"url":"https://example.com/h","events":["*"],"filter":[{"field":"a","op":"eq","value":${deep}}]}`,
      ],
      ["POST", "/v1/event-types", `{"name":"deep.thing","examples":[{"a":${deep}}]}`],
      ["POST", "/v1/accounts", `{"name":${deep}}`],
      ["POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":${deep}}`],
    ];
    for (const [method, path, body] of routes) {
      const res = await call(method, path, { ...as(account.id), body });
      expect(res.status, path).toBe(400);
      expect(res.body.error.code, path).toBe("validation_failed");
    }
  });

  it("a service binding's publish is held to the same limit, and a value that is not JSON is 400", async () => {
    const account = await createAccount();
    let entity: Record<string, unknown> = {};
    for (let i = 0; i < 200; i++) entity = { a: entity };
    const deep = await exports.KeyhookRpc.publish(account.id, { type: "deep.thing", entity });
    expect(deep).toMatchObject({ error: { code: "validation_failed", details: [{ path: "entity" }] } });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const notJson = await exports.KeyhookRpc.publish(account.id, { type: "deep.thing", entity: cyclic });
    expect(notJson).toMatchObject({ error: { code: "validation_failed" } });
  });

  it("JSON stored before the limit reads back as a flat stand-in that keeps its text", async () => {
    const account = await createAccount();
    const published = await publish(account.id, { type: "deep.thing", entity: { a: 1 } });
    const id = published.body.event.id as string;
    // What a deployment may hold from before the limit: an entity 3,000 levels deep.
    const text = `{"a":${deepArray(3000)}}`;
    await env.DB.prepare("UPDATE events SET entity = ? WHERE id = ?").bind(text, id).run();
    const one = await call("GET", `/v1/events/${id}`, as(account.id));
    expect(one.status).toBe(200);
    expect(one.body.event.entity).toMatchObject({ keyhookError: "json_too_deep", json: text });
    const list = await call("GET", "/v1/events", as(account.id));
    expect(list.status).toBe(200);
  });
});

describe("filters cost a publish what their own values weigh", () => {
  it("compares JSON values with keys in any order, refuses a value over 4 KiB", async () => {
    const account = await createAccount();
    const filter = [{ field: "customer", op: "eq", value: { id: "c1", tier: "gold" } }];
    expect(
      (await createWebhook(account.id, { url: `${env.RECEIVER_URL}/${uniqueName()}`, filter })).webhook.filter,
    ).toEqual(filter);
    const big = await call("POST", "/v1/webhooks", {
      ...as(account.id),
      body: {
        url: "https://example.com/g",
        events: ["*"],
        filter: [{ field: "a", op: "in", value: ["x".repeat(5000)] }],
      },
    });
    expect(big.status).toBe(400);
    expect(big.body.error.details[0].path).toBe("filter.0.value");
    const matched = await publish(account.id, {
      type: "order.placed",
      entity: { customer: { tier: "gold", id: "c1" } },
    });
    expect(matched.body.deliveries).toHaveLength(1);
    const missed = await publish(account.id, {
      type: "order.placed",
      entity: { customer: { tier: "gold", id: "c1", x: 1 } },
    });
    expect(missed.body.deliveries).toHaveLength(0);
  });
});

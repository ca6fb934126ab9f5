import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { sha256Hex } from "../src/lib/crypto";
import { ADMIN, accountWithKey, BASE, call, createAccount, createKey, userToken } from "./helpers/api";
import {
  createWebhook,
  deliveriesOfAccount,
  deliveryRow,
  received,
  setDelivery,
  uniqueName,
  waitForReceived,
} from "./helpers/webhooks";

// Bindings that fail on cue, in workerd, as the op-count wrappers wrap them.

type Failure = "reject" | "hang";

/** A D1 whose statements (reads, writes, or both) fail — rejected, or never answered. */
function brokenD1(how: Failure, which: "all" | "writes" = "all"): D1Database {
  const fail = () =>
    how === "hang" ? new Promise<never>(() => {}) : Promise.reject(new Error("D1_ERROR: Network connection lost."));
  const isWrite = (sql: string) => /^\s*(insert|update|delete)/i.test(sql);
  const wrap = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const broken = which === "all" || isWrite(sql);
    return {
      bind: (...values: unknown[]) => wrap(stmt.bind(...values), sql),
      first: (...args: [string?]) => (broken ? fail() : stmt.first(...(args as [string]))),
      all: () => (broken ? fail() : stmt.all()),
      run: () => (broken ? fail() : stmt.run()),
      raw: () => (broken ? fail() : stmt.raw()),
    } as unknown as D1PreparedStatement;
  };
  return {
    prepare: (sql: string) => wrap(env.DB.prepare(sql), sql),
    // Every batch of Keyhook's holds a write.
    batch: () => fail(),
    exec: () => fail(),
    withSession: () => env.DB.withSession(),
    dump: () => env.DB.dump(),
  } as unknown as D1Database;
}

function brokenKv(): KVNamespace {
  const fail = () => Promise.reject(new Error("KV GET failed: 503 Service Unavailable"));
  return { get: fail, getWithMetadata: fail, list: fail, put: fail, delete: fail } as unknown as KVNamespace;
}

function brokenQueue(): Queue {
  const fail = () => Promise.reject(new Error("Queue send failed: 500"));
  return { send: fail, sendBatch: fail } as unknown as Queue;
}

/** One request through the Worker with some bindings swapped; waits for its `waitUntil` work. */
async function request(
  method: string,
  path: string,
  bindings: Partial<Env>,
  opts: { apiKey?: string; token?: string; accountId?: string; body?: unknown } = {},
) {
  const headers = new Headers();
  if (opts.apiKey) headers.set("x-api-key", opts.apiKey);
  if (opts.token) headers.set("authorization", `Bearer ${opts.token}`);
  if (opts.accountId) headers.set("x-account-id", opts.accountId);
  if (opts.body !== undefined) headers.set("content-type", "application/json");
  const req = new Request(BASE + path, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const ctx = createExecutionContext();
  const res = await worker.fetch(req as Request<unknown, IncomingRequestCfProperties>, { ...env, ...bindings }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

let logged: string[] = [];
beforeEach(() => {
  logged = [];
  for (const level of ["log", "error", "warn"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logged.push(args.map(String).join(" "));
    });
  }
});
afterEach(() => vi.restoreAllMocks());

/** The every-minute cron (the sweeper among it), with the real bindings. */
const cron = () =>
  worker.scheduled(
    createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }),
    env,
    createExecutionContext(),
  );

const expectUnavailable = (res: { status: number; headers: Headers; body: any }) => {
  expect(res.status).toBe(503);
  expect(res.body.error).toMatchObject({ code: "service_unavailable", message: expect.stringContaining("D1") });
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
};

describe("D1 failing or not answering", () => {
  it("on the authenticated path: 503 with Retry-After, never a 500, never admitted", async () => {
    const { account, key } = await accountWithKey();
    const profile = await call("POST", "/v1/permission-profiles", {
      token: ADMIN,
      accountId: account.id,
      body: { name: "p", permissions: ["keys:read"] },
    });
    const user = await userToken({ accountId: account.id, profileId: profile.body.profile.id });
    const DB = brokenD1("reject");
    expectUnavailable(await request("GET", "/v1/whoami", { DB }, { apiKey: key }));
    expectUnavailable(await request("GET", "/v1/api-keys", { DB }, { apiKey: key }));
    expectUnavailable(await request("POST", "/v1/keys/verify", { DB }, { token: ADMIN, body: { key } }));
    expectUnavailable(await request("GET", "/v1/whoami", { DB }, { token: user })); // the profile read
    expectUnavailable(await request("GET", "/v1/api-keys", { DB }, { token: ADMIN, accountId: account.id }));
    // The log says what failed, with the request id, once (not once per request), and no key.
    const lines = logged.filter((l) => l.includes("D1 unavailable"));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThanOrEqual(5); // once a minute per route
    for (const line of lines) expect(JSON.parse(line).requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(logged.join("\n")).not.toContain(key);
  });

  it("a D1 that does not answer is given up after D1_TIMEOUT_MS", async () => {
    const { key } = await accountWithKey();
    const started = Date.now();
    const res = await request("GET", "/v1/whoami", { DB: brokenD1("hang"), D1_TIMEOUT_MS: "300" }, { apiKey: key });
    expectUnavailable(res);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("a warm key keeps working while D1 is down: the edge tier answers it without the primary", async () => {
    const { key } = await accountWithKey();
    expect((await request("GET", "/v1/whoami", {}, { apiKey: key })).status).toBe(200);
    const colo = env.EDGE_COLO.get(env.EDGE_COLO.idFromName("colo"));
    const path = `/keys/${await sha256Hex(key)}`;
    await vi.waitUntil(async () => (await colo.get(path, Date.now())) !== null, { timeout: 5_000 });
    expect((await request("GET", "/v1/whoami", { DB: brokenD1("reject") }, { apiKey: key })).status).toBe(200);
    // An unknown key is never cached: it needs D1, so it gets 503.
    const { key: other } = await accountWithKey();
    expectUnavailable(await request("GET", "/v1/whoami", { DB: brokenD1("reject") }, { apiKey: other }));
  });

  it("on write paths: 503 and nothing half written", async () => {
    const account = await createAccount();
    const { apiKey, key } = await createKey(account.id, { name: "before" });
    const count = async (sql: string, ...binds: unknown[]) =>
      (await env.DB.prepare(sql)
        .bind(...binds)
        .first<{ n: number }>())!.n;
    const keysBefore = await count("SELECT count(*) AS n FROM api_keys WHERE account_id = ?", account.id);
    const auditBefore = await count("SELECT count(*) AS n FROM audit_log WHERE account_id = ?", account.id);
    const eventsBefore = await count("SELECT count(*) AS n FROM events WHERE account_id = ?", account.id);
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${uniqueName()}` });
    const DB = brokenD1("reject", "writes"); // reads work: the request gets as far as its write
    const op = { token: ADMIN, accountId: account.id };
    expectUnavailable(await request("POST", "/v1/api-keys", { DB }, { ...op, body: { name: "new" } }));
    expectUnavailable(await request("POST", `/v1/api-keys/${apiKey.id}/rotate`, { DB }, { ...op, body: {} }));
    expectUnavailable(await request("DELETE", `/v1/api-keys/${apiKey.id}`, { DB }, op));
    expectUnavailable(
      await request("POST", "/v1/events", { DB }, { ...op, body: { type: "order.paid", entity: { n: 1 } } }),
    );
    expectUnavailable(
      await request("POST", "/v1/permission-profiles", { DB }, { ...op, body: { name: "p", permissions: [] } }),
    );
    expect(await count("SELECT count(*) AS n FROM api_keys WHERE account_id = ?", account.id)).toBe(keysBefore);
    expect(await count("SELECT count(*) AS n FROM events WHERE account_id = ?", account.id)).toBe(eventsBefore);
    // The webhook's creation wrote its audit entry; none of the failed writes did.
    expect(await count("SELECT count(*) AS n FROM audit_log WHERE account_id = ?", account.id)).toBe(auditBefore + 1);
    // The key still works with its old secret, and is not revoked.
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(200);
  });
});

describe("KV failing in the rate counter: fail-open", () => {
  it("requests are served and counted in memory; the failure is logged once a minute, with the request id", async () => {
    const { key } = await accountWithKey("pro", { rateLimitPerHour: 3 });
    const RATE_LIMITS = brokenKv();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await request("GET", "/v1/whoami", { RATE_LIMITS }, { apiKey: key }));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]); // still exact within this isolate
    expect(answers[0]!.headers.get("x-ratelimit-remaining")).toBe("2");
    const warnings = logged.filter((l) => l.includes("fail-open"));
    expect(warnings.length).toBe(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({
      level: "warn",
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(logged.join("\n")).not.toContain(key);
  });

  it("the usage history cannot be made up: 503", async () => {
    const { account, apiKey } = await accountWithKey();
    const res = await request(
      "GET",
      `/v1/api-keys/${apiKey.id}/usage`,
      { RATE_LIMITS: brokenKv() },
      {
        token: ADMIN,
        accountId: account.id,
      },
    );
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("service_unavailable");
  });
});

describe("the queue failing after the outbox write", () => {
  it("a retry that cannot be queued: the deliveries stay pending and the cron sends them", async () => {
    const account = await createAccount();
    const name = uniqueName();
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/fail/1/${name}` });
    const res = await request(
      "POST",
      "/v1/events",
      { DELIVERIES: brokenQueue() },
      { token: ADMIN, accountId: account.id, body: { type: "order.paid", entity: { n: 1 } } },
    );
    expect(res.status).toBe(202);
    const id = res.body.deliveries[0].id;
    expect(await received(name)).toHaveLength(1); // the first attempt, which failed
    expect(await deliveryRow(id)).toMatchObject({ status: "pending", attempts: 1 });
    // Logged with the publishing request's id.
    const warning = logged.find((l) => l.includes("retry send failed"));
    expect(JSON.parse(warning!)).toMatchObject({ level: "warn", requestId: res.headers.get("x-request-id") });
    // Past its time, the cron finds it and the (working) queue delivers it.
    await setDelivery(id, { next_attempt_at: Date.now() - 60_000 });
    await cron();
    await waitForReceived(name, 2);
    await expect.poll(async () => (await deliveryRow(id))?.status).toBe("succeeded");
  });

  it("a manual retry that cannot be queued still answers 202; the cron sends it", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/status/500/${name}` });
    const res = await call("POST", "/v1/events", {
      token: ADMIN,
      accountId: account.id,
      body: { type: "a.b", entity: {} },
    });
    const id = res.body.deliveries[0].id;
    await setDelivery(id, { status: "failed", next_attempt_at: null });
    await call("PATCH", `/v1/webhooks/${webhook.id}`, {
      token: ADMIN,
      accountId: account.id,
      body: { url: `${env.RECEIVER_URL}/ok/${name}` },
    });
    const retry = await request(
      "POST",
      `/v1/deliveries/${id}/retry`,
      { DELIVERIES: brokenQueue() },
      {
        token: ADMIN,
        accountId: account.id,
      },
    );
    expect(retry.status).toBe(202);
    expect(await deliveryRow(id)).toMatchObject({ status: "pending" });
    await setDelivery(id, { next_attempt_at: Date.now() - 60_000 });
    await cron();
    await expect.poll(async () => (await received(name)).filter((r) => r.path.startsWith("/ok/")).length).toBe(1);
  });
});

/** A pacer (the throttle's and replay's Durable Object) that fails every call, or never answers. */
function brokenPacer(how: Failure): Env["PACER"] {
  const take = () =>
    how === "hang" ? new Promise<never>(() => {}) : Promise.reject(new Error("Durable Object reset"));
  return { idFromName: (n: string) => env.PACER.idFromName(n), get: () => ({ take }) } as unknown as Env["PACER"];
}

/** A webhook that was disabled while `n` events of its type were published, enabled again. */
async function missedWhileDisabled(n: number) {
  const account = await createAccount();
  const name = uniqueName();
  const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}`, events: ["a.b"] });
  const since = new Date(Date.now() - 1000).toISOString();
  const as = { token: ADMIN, accountId: account.id };
  await call("PATCH", `/v1/webhooks/${webhook.id}`, { ...as, body: { status: "disabled" } });
  const missed: string[] = [];
  for (let i = 0; i < n; i++) {
    missed.push((await call("POST", "/v1/events", { ...as, body: { type: "a.b", entity: { i } } })).body.event.id);
  }
  await call("PATCH", `/v1/webhooks/${webhook.id}`, { ...as, body: { status: "active" } });
  return { account, name, webhook, since, missed };
}

describe("the pacer failing or not answering", () => {
  for (const how of ["reject", "hang"] as const) {
    it(`a throttled endpoint's delivery (pacer: ${how}) is deferred, not attempted; later it is sent once`, async () => {
      const account = await createAccount();
      const name = uniqueName();
      await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}`, throttle: 5 });
      const started = Date.now();
      const res = await request(
        "POST",
        "/v1/events",
        { PACER: brokenPacer(how) },
        { token: ADMIN, accountId: account.id, body: { type: "order.paid", entity: { n: 1 } } },
      );
      expect(res.status).toBe(202);
      const id = res.body.deliveries[0].id;
      // The first attempt waited at most the pacer's timeout, then deferred the delivery by 30 s.
      expect(Date.now() - started).toBeLessThan(6_000);
      const row = await deliveryRow(id);
      expect(row).toMatchObject({ status: "pending", attempts: 0, slot_at: null });
      expect(row?.next_attempt_at).toBeGreaterThan(Date.now() + 20_000);
      expect(await received(name)).toHaveLength(0);
      const warning = logged.find((l) => l.includes("pacer unavailable"));
      expect(warning).toContain(how === "hang" ? "did not answer within 2000 ms" : "Durable Object reset");
      // When it is due, the sweeper queues it and the (working) pacer lets it through, once.
      await setDelivery(id, { next_attempt_at: Date.now() - 60_000 });
      await cron();
      await waitForReceived(name, 1);
      await expect.poll(async () => (await deliveryRow(id))?.status).toBe("succeeded");
      expect(await received(name)).toHaveLength(1);
    });
  }

  it("a replay whose pacer fails still answers 202; the held events go out once, in order, paced", async () => {
    const { account, name, webhook, since, missed } = await missedWhileDisabled(5);
    const at = Date.now();
    const res = await request(
      "POST",
      `/v1/webhooks/${webhook.id}/replay`,
      { PACER: brokenPacer("reject") },
      { token: ADMIN, accountId: account.id, body: { since } },
    );
    expect(res.status).toBe(202);
    expect(res.body.replayed).toBe(5);
    expect(logged.some((l) => l.includes("pacer unavailable; replay paced from here"))).toBe(true);
    // Slots counted locally: 30 s on, 100 ms apart (10 a second), in order of publication.
    const results = (await deliveriesOfAccount(account.id)).filter((d) => d.webhook_id === webhook.id);
    expect(results).toHaveLength(5);
    const slots = results.map((r) => r.slot_at);
    expect(slots[0]).toBeGreaterThanOrEqual(at + 30_000);
    expect(slots.slice(1).map((s, i) => s - (slots[i] ?? 0))).toEqual([100, 100, 100, 100]);
    // Bring the slots to now (keeping their spacing) and let the sweeper queue them.
    const shift = (slots[0] ?? 0) - (Date.now() + 300);
    for (const d of results) {
      await setDelivery(d.id, { slot_at: d.slot_at - shift, next_attempt_at: Date.now() - 60_000 });
    }
    await cron();
    const got = await waitForReceived(name, 5);
    expect(got.map((r) => r.headers["webhook-id"])).toEqual(missed);
    const span = (got.at(-1)?.at ?? 0) - (got[0]?.at ?? 0);
    expect(span).toBeGreaterThanOrEqual(300);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await received(name)).toHaveLength(5);
  });

  it("a replay that stops between holding its events and writing their slots: 503, nothing sent twice, all sent later", async () => {
    const { account, name, webhook, since } = await missedWhileDisabled(3);
    const as = { token: ADMIN, accountId: account.id };
    // D1 refuses the slots' write (the statement after the hold): the request dies there.
    const slotsWrite = /SET \(deliveries, attempts, due_at, rev\)/;
    const failing = { bind: () => failing, run: fail, all: fail, first: fail, raw: fail };
    function fail() {
      return Promise.reject(new Error("D1_ERROR: Network connection lost."));
    }
    const db = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "prepare") return (sql: string) => (slotsWrite.test(sql) ? failing : target.prepare(sql));
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const res = await request("POST", `/v1/webhooks/${webhook.id}/replay`, { DB: db }, { ...as, body: { since } });
    expect(res.status).toBe(503);
    const held = (await deliveriesOfAccount(account.id)).filter((d) => d.webhook_id === webhook.id);
    expect(held).toHaveLength(3);
    for (const d of held) {
      expect(d).toMatchObject({ status: "pending", slot_at: null });
      expect(d.next_attempt_at).toBeGreaterThan(Date.now() + 3_000_000); // held for the hour
    }
    // Replaying again finds them taken: nothing is held or sent twice.
    const again = await call("POST", `/v1/webhooks/${webhook.id}/replay`, { ...as, body: { since } });
    expect(again.body.replayed).toBe(0);
    // When the hold runs out, the sweeper sends each once.
    for (const d of held) await setDelivery(d.id, { next_attempt_at: Date.now() - 60_000 });
    await cron();
    await waitForReceived(name, 3);
    await new Promise((r) => setTimeout(r, 1000));
    const got = await received(name);
    expect(new Set(got.map((r) => r.headers["webhook-id"])).size).toBe(3);
    expect(got).toHaveLength(3);
  });
});

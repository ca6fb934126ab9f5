import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { LATEST_MIGRATION } from "../src/db/migrations";
import worker from "../src/index";
import { ADMIN, accountWithKey, BASE } from "./helpers/api";

/** `GET /v1/deployment/doctor` (what `keyhook doctor` prints), on the Worker with `use` as its environment. */
async function doctor(use: Env = env, token: string | null = ADMIN) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${BASE}/v1/deployment/doctor`, { headers: token ? { authorization: `Bearer ${token}` } : {} }),
    use,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const body = (await res.json()) as { ok: boolean; checks: { name: string; status: string; detail: string }[] };
  return { status: res.status, body, check: (name: string) => body.checks?.find((k) => k.name === name) };
}

async function cron(use: Env = env) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }), use, ctx);
  await waitOnExecutionContext(ctx);
}

async function consume(body: unknown) {
  const batch = createMessageBatch("keyhook-deliveries", [{ id: "p1", timestamp: new Date(), attempts: 1, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  await waitOnExecutionContext(ctx);
  return getQueueResult(batch, ctx);
}

describe("keyhook doctor: GET /v1/deployment/doctor", () => {
  it("names the newest migration in migrations/", () => {
    expect(LATEST_MIGRATION).toBe(env.TEST_MIGRATIONS.at(-1)?.name);
  });

  it("a whole deployment: every check ok once the cron ran and the consumer answered a ping", async () => {
    await cron();
    const first = await doctor();
    expect(first.status).toBe(200);
    // The ping the doctor just sent, answered by the consumer (the queue's own consumer may be slower).
    const ack = await consume({ ping: Date.now() });
    expect(ack.explicitAcks).toEqual(["p1"]);
    const { body, check } = await doctor();
    for (const k of body.checks) expect(k.status, `${k.name}: ${k.detail}`).toBe("ok");
    expect(body.ok).toBe(true);
    expect(body.checks.map((k) => k.name)).toEqual([
      "configuration",
      "D1",
      "migrations",
      "KV",
      "R2",
      "Durable Object EndpointPacer",
      "Durable Object ColoCache",
      "Durable Object NamedLimiter",
      "queue",
      "queue consumer",
      "cron",
      "edge purges",
    ]);
    expect(check("migrations")?.detail).toContain(LATEST_MIGRATION);
    expect(check("edge purges")?.detail).toMatch(/a purge confirmed in \d+ ms \(local\)/);
  });

  it("a bad setting: the configuration line names it, and the other parts are still checked", async () => {
    const bad = { ...env, HISTORY_MAX_MB: "lots", KEY_PREFIX: "Acme" } as Env;
    const { status, body, check } = await doctor(bad);
    expect(status).toBe(200);
    expect(body.ok).toBe(false);
    expect(check("configuration")?.status).toBe("fail");
    expect(check("configuration")?.detail).toContain("HISTORY_MAX_MB");
    expect(check("configuration")?.detail).toContain("KEY_PREFIX");
    expect(check("D1")?.status).toBe("ok");
    expect(check("edge purges")?.detail).toContain("the configuration is invalid");
    // Every other route still refuses with 500.
    const ctx = createExecutionContext();
    expect((await worker.fetch(new Request(`${BASE}/health`), bad, ctx)).status).toBe(500);
  });

  it("a missing binding: its line names it and where it is declared", async () => {
    const { HISTORY: _r2, PACER: _pacer, ...rest } = env;
    const { body, check } = await doctor(rest as unknown as Env);
    expect(body.ok).toBe(false);
    expect(check("R2")).toMatchObject({ status: "fail" });
    expect(check("R2")?.detail).toMatch(/no HISTORY binding: wrangler\.toml \[\[r2_buckets\]\]/);
    expect(check("Durable Object EndpointPacer")?.detail).toMatch(/no PACER binding/);
    expect(check("KV")?.status).toBe("ok");
  });

  it("migrations not applied, a cron that never ran: each named with what to do", async () => {
    // The newest migration not applied (renamed for the test), the cron's mark gone.
    const hide = `UPDATE d1_migrations SET name = ?1 WHERE name = ?2`;
    await env.DB.prepare(hide).bind("hidden", LATEST_MIGRATION).run();
    await env.DB.prepare("DELETE FROM cron_state WHERE name IN ('cron-seen', 'queue-consumer-seen')").run();
    const previous = env.TEST_MIGRATIONS.at(-2)?.name;
    let check: Awaited<ReturnType<typeof doctor>>["check"];
    try {
      check = (await doctor()).check;
    } finally {
      await env.DB.prepare(hide).bind(LATEST_MIGRATION, "hidden").run();
    }
    expect(check("migrations")?.status).toBe("fail");
    expect(check("migrations")?.detail).toContain(`this Worker needs ${LATEST_MIGRATION}`);
    expect(check("migrations")?.detail).not.toContain(`applied up to ${previous}`); // "hidden" is last by id
    expect(check("migrations")?.detail).toContain("wrangler d1 migrations apply DB --remote");
    expect(check("cron")?.status).toBe("fail");
    expect(check("cron")?.detail).toContain("has never run");
    expect(check("queue consumer")?.status).toBe("pending");
  });

  it("only the operator: none or a wrong token is 401, an account's key 403", async () => {
    expect((await doctor(env, null)).status).toBe(401);
    const { key } = await accountWithKey();
    expect((await doctor(env, key)).status).toBe(403);
    expect((await doctor(env, "nope")).status).toBe(401);
    // With an invalid configuration, the operator token is still required.
    const bad = { ...env, HISTORY_MAX_MB: "lots" } as Env;
    expect((await doctor(bad, null)).status).toBe(401);
    expect((await doctor(bad, "nope")).status).toBe(401);
    expect((await doctor(bad, key)).status).toBe(401);
  });

  it("a ping on the queue is answered, never dead-lettered", async () => {
    const result = await consume({ ping: 1 });
    expect(result.explicitAcks).toEqual(["p1"]);
    expect(result.retryMessages).toEqual([]);
  });
});

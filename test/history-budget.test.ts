import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { compose } from "../src/compose";
import { readStorageState } from "../src/features/history/budget";
import { ROW_BYTES } from "../src/features/history/storage.repo";
import { ADMIN, call, createAccount, createKey } from "./helpers/api";
import { createWebhook, publish, uniqueName } from "./helpers/webhooks";

/** The cron's history step with these settings (the hot window stays its default, 72 h). */
async function cron(settings: Partial<Env>, now?: number) {
  const ctx = createExecutionContext();
  const moved = await compose(
    { ...env, ...settings } as Env,
    ctx,
    now === undefined ? {} : { now: () => now },
  ).history.archive();
  await waitOnExecutionContext(ctx);
  return moved;
}

const d1Size = async () => Number((await env.DB.prepare("SELECT 1").all()).meta.size_after);

/** A kilobyte entity, like the bench's. */
const entity = (n: number) => ({ id: `ord_${n}`, customer: "cus_123", lines: "x".repeat(900), n });

/** Until no delivery of the account is pending (the first attempts are recorded). */
async function settled(accountId: string) {
  await expect
    .poll(
      async () =>
        (
          await env.DB.prepare("SELECT count(*) AS n FROM events WHERE account_id = ? AND due_at IS NOT NULL")
            .bind(accountId)
            .first<{ n: number }>()
        )?.n,
      { timeout: 15_000, interval: 50 },
    )
    .toBe(0);
}

async function setUp() {
  const account = await createAccount("enterprise");
  const name = uniqueName();
  for (let i = 0; i < 5; i++) await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
  return account;
}

async function eventsListed(accountId: string) {
  let n = 0;
  let cursor: string | null = null;
  do {
    const q: string = `/v1/events?limit=100${cursor ? `&cursor=${cursor}` : ""}`;
    const page = await call("GET", q, { token: ADMIN, accountId });
    expect(page.status).toBe(200);
    n += page.body.events.length;
    cursor = page.body.nextCursor;
  } while (cursor !== null);
  return n;
}

afterEach(() => vi.restoreAllMocks());

describe("the history's byte budget (HISTORY_MAX_MB)", () => {
  it("a 100 KB budget: publishing goes on, D1 grows by less than the budget, every event stays in the log", async () => {
    const account = await setUp();
    const warn = vi.spyOn(console, "error");
    const budget = 100_000;
    const before = await d1Size();
    let published = 0;
    let peak = 0;
    for (let burst = 0; burst < 8; burst++) {
      for (let i = 0; i < 15; i++) {
        const res = await publish(account.id, { type: "order.paid", entity: entity(published++) });
        expect(res.status).toBe(202);
      }
      await settled(account.id);
      const run = await cron({ HISTORY_MAX_MB: "0.1" });
      expect(run.historyBytes).toBeLessThanOrEqual(budget);
      peak = Math.max(peak, (await d1Size()) - before);
      expect((await d1Size()) - before).toBeLessThanOrEqual(budget);
    }
    // What was published would not fit: ~1.4 KB an event in D1, 120 events.
    expect(published * 1_200).toBeGreaterThan(budget);
    const inD1 = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE account_id = ?")
      .bind(account.id)
      .first<{ n: number }>();
    expect(inD1?.n).toBeLessThan(published);
    expect(peak).toBeGreaterThan(0);
    // Every event is still in the event log: D1's and R2's, read as one.
    expect(await eventsListed(account.id)).toBe(published);
    // The moves were logged, each naming what it moved.
    const lines = warn.mock.calls.map((c) => String(c[0]));
    expect(lines.some((l) => l.includes("history over its budget: oldest final events moved to R2 early"))).toBe(true);
    // The operator reads the deployment's storage.
    const storage = await call("GET", "/v1/deployment/storage", { token: ADMIN });
    expect(storage.status).toBe(200);
    expect(storage.body.d1.bytes).toBeGreaterThan(0);
    expect(storage.body.history.bytes).toBeLessThanOrEqual(budget);
    expect(storage.body.history.share).toBeGreaterThan(0);
    expect(storage.body.history.movedEarly.events).toBeGreaterThan(0);
    expect(storage.body.archive.events).toBeGreaterThan(0);
    expect(storage.body.history.problem).toBeNull();
  });

  it("a budget that cannot hold one minute's publishing is a configuration error naming it", async () => {
    const account = await setUp();
    const errors = vi.spyOn(console, "error");
    for (let i = 0; i < 20; i++) {
      expect((await publish(account.id, { type: "order.paid", entity: entity(i) })).status).toBe(202);
    }
    await settled(account.id);
    await cron({ HISTORY_MAX_MB: "0.01" });
    const logged = errors.mock.calls.map((c) => String(c[0])).find((l) => l.includes("configuration error"));
    expect(logged).toContain('"setting":"HISTORY_MAX_MB"');
    const storage = await call("GET", "/v1/deployment/storage", { token: ADMIN });
    expect(storage.body.history.problem).toMatch(/^HISTORY_MAX_MB \(0\.01 MB\) cannot hold one minute's publishing/);
    // Publishing goes on all the same.
    expect((await publish(account.id, { type: "order.paid", entity: entity(99) })).status).toBe(202);
  });

  it("between hourly counts of the whole table, a run counts only the events made since the last one", async () => {
    const account = await setUp();
    // After every event the other tests published.
    await new Promise((r) => setTimeout(r, 5));
    const t0 = Date.now();
    // As if the table held 50,000 events, counted a moment ago.
    const seeded = {
      measuredAt: t0,
      recountedAt: t0,
      countedTo: t0,
      rows: 50_000,
      payload: 60_000_000,
      minute: { rows: 0, payload: 0 },
      d1Bytes: 0,
      early: null,
      problem: null,
    };
    await env.DB.prepare("INSERT OR REPLACE INTO cron_state (name, value) VALUES ('history-storage', ?)")
      .bind(JSON.stringify(seeded))
      .run();
    for (let i = 0; i < 5; i++) await publish(account.id, { type: "order.paid", entity: entity(i) });
    await settled(account.id);
    const own = await env.DB.prepare(`SELECT count(*) AS n, sum(${ROW_BYTES}) AS b FROM events WHERE account_id = ?`)
      .bind(account.id)
      .first<{ n: number; b: number }>();
    // Two minutes on: the five are older than the last minute, counted once, by the range since t0.
    const later = Date.now() + 120_000;
    await cron({}, later);
    const state = await readStorageState(compose(env, createExecutionContext()).platform.db);
    expect(state).toMatchObject({ rows: 50_000 + 5, payload: 60_000_000 + Number(own?.b), recountedAt: t0 });
    expect(state?.minute.rows).toBe(0);
    // An hour after the last whole count, the table is counted again: the 50,000 were never there.
    await cron({}, later + 3_600_000);
    const recounted = await readStorageState(compose(env, createExecutionContext()).platform.db);
    expect(recounted?.recountedAt).toBe(later + 3_600_000);
    expect(recounted?.rows).toBeLessThan(1_000);
    expect(own?.n).toBe(5);
  });

  it("the storage route is the operator's: an account's key is refused", async () => {
    const account = await createAccount();
    const res = await call("GET", "/v1/deployment/storage", { token: ADMIN, accountId: account.id });
    expect(res.status).toBe(200);
    const { key } = await createKey(account.id, { scopes: ["webhooks:read"] });
    const refused = await call("GET", "/v1/deployment/storage", { apiKey: key });
    expect(refused.status).toBe(403);
  });

  it("a budget that is not a number of MB is refused by the settings, naming it", async () => {
    for (const bad of ["0", "-1", "abc", "1.2345", "20000"]) {
      const ctx = createExecutionContext();
      expect(() => compose({ ...env, HISTORY_MAX_MB: bad } as Env, ctx).platform).toThrow(/HISTORY_MAX_MB/);
    }
  });
});

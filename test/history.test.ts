import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { compose } from "../src/compose";
import { decodeArchive } from "../src/features/history/archive-object";
import { newId } from "../src/lib/encoding";
import { ADMIN, BASE, call, createAccount } from "./helpers/api";
import {
  attemptsOfEvent,
  createWebhook,
  deliveriesOfAccount,
  insertEvent,
  publish,
  uniqueName,
  waitForReceived,
} from "./helpers/webhooks";

const DAY = 86_400_000;

/** The archiver as the cron runs it, with a hot window of 0 (an event moves once it is final). */
async function archiveNow(overrides: Partial<Env> = {}, now?: number) {
  const ctx = createExecutionContext();
  const services = compose(
    { ...env, HISTORY_HOT_HOURS: "0", ...overrides } as Env,
    ctx,
    now === undefined ? {} : { now: () => now },
  );
  const moved = await services.history.archive();
  await waitOnExecutionContext(ctx);
  return moved;
}

const get = (accountId: string, path: string) => call("GET", path, { token: ADMIN, accountId });

/** What D1 holds of the account's history: events, and the deliveries and attempts in their rows. */
async function d1Rows(accountId: string) {
  const { results } = await env.DB.prepare("SELECT id FROM events WHERE account_id = ?")
    .bind(accountId)
    .all<{ id: string }>();
  const attempts = await Promise.all(results.map((r) => attemptsOfEvent(r.id)));
  return {
    events: results.length,
    deliveries: (await deliveriesOfAccount(accountId)).length,
    attempts: attempts.flat().length,
  };
}

/** Every archived event of the account, from every object under its prefix (indexed or not). */
async function archivedEvents(accountId: string) {
  const listed = await env.HISTORY.list({ prefix: `history/${accountId}/` });
  const out: { key: string; events: Awaited<ReturnType<typeof decodeArchive>> }[] = [];
  for (const o of listed.objects) {
    const body = await env.HISTORY.get(o.key);
    if (body) out.push({ key: o.key, events: await decodeArchive(body.body) });
  }
  return out;
}

const indexRows = async (accountId: string) =>
  (await env.DB.prepare("SELECT * FROM history_objects WHERE account_id = ?").bind(accountId).all<any>()).results;

async function exportText(accountId: string, query = "") {
  const res = await exports.default.fetch(
    new Request(`${BASE}/v1/events/export${query}`, {
      headers: { authorization: `Bearer ${ADMIN}`, "x-account-id": accountId },
    }),
  );
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/x-ndjson");
  return res.text();
}

/** Everything a caller can read about the account's history, through every route. */
async function everyView(accountId: string, webhookId: string) {
  const list = (await get(accountId, "/v1/events?limit=100")).body;
  const details = [];
  for (const e of list.events) details.push((await get(accountId, `/v1/events/${e.id}`)).body);
  const attempts = (await get(accountId, `/v1/webhooks/${webhookId}/attempts?limit=100`)).body;
  const exported = await exportText(accountId);
  const webhook = (await get(accountId, `/v1/webhooks/${webhookId}`)).body.webhook;
  return { list, details, attempts, exported, lastSuccessAt: webhook.lastSuccessAt };
}

/** An account with a webhook on a real receiver and `n` events delivered to it. */
async function deliveredAccount(n: number) {
  const account = await createAccount();
  const name = uniqueName();
  const { webhook } = await createWebhook(account.id, {
    url: `${env.RECEIVER_URL}/ok/${name}`,
    events: ["order.paid", "order.refunded"],
  });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const type = i % 3 === 2 ? "order.refunded" : "order.paid";
    ids.push((await publish(account.id, { type, entity: { n: i, card: `secret-${i}` } })).body.event.id);
  }
  await waitForReceived(name, n);
  await expect
    .poll(async () => (await get(account.id, "/v1/events?status=delivered&limit=100")).body.events.length)
    .toBe(n);
  return { account, webhook, name, ids };
}

describe("the webhook history moves to R2 and reads the same", () => {
  it("an archived event reads back identically through every event-log route and the delivery history", async () => {
    const { account, webhook, ids } = await deliveredAccount(5);
    const before = await everyView(account.id, webhook.id);
    expect(before.list.events.map((e: any) => e.id)).toEqual([...ids].reverse());
    expect(before.attempts.attempts).toHaveLength(5);
    expect(before.exported.trim().split("\n")).toHaveLength(5);

    const moved = await archiveNow();
    expect(moved.events).toBeGreaterThanOrEqual(5);
    // D1 holds nothing of it any more; R2 holds all of it, indexed.
    expect(await d1Rows(account.id)).toEqual({ events: 0, deliveries: 0, attempts: 0 });
    const objects = await archivedEvents(account.id);
    expect(objects.flatMap((o) => o.events.map((e) => e.id)).sort()).toEqual([...ids].sort());
    expect((await indexRows(account.id)).map((r) => r.key).sort()).toEqual(objects.map((o) => o.key).sort());

    const after = await everyView(account.id, webhook.id);
    expect(after).toEqual(before);
    // Filters and paging work over the archive as over D1.
    const refunded = await get(account.id, "/v1/events?type=order.refunded");
    expect(refunded.body.events.map((e: any) => e.id)).toEqual([ids[2]]);
    expect((await get(account.id, "/v1/events?status=failing")).body.events).toEqual([]);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await get(account.id, `/v1/events?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      paged.push(...page.body.events.map((e: any) => e.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(paged).toEqual([...ids].reverse());
    const since = before.list.events[1].occurredAt;
    const recent = await get(account.id, `/v1/events?since=${encodeURIComponent(since)}`);
    expect(recent.body.events.map((e: any) => e.id)).toEqual([ids[4], ids[3]]);
    // Another account sees none of it.
    const other = await createAccount();
    expect((await get(other.id, "/v1/events")).body.events).toEqual([]);
    expect((await get(other.id, `/v1/events/${ids[0]}`)).status).toBe(404);
  });

  it("an event log mixing D1 and R2 pages newest first, each event once", async () => {
    const { account, ids } = await deliveredAccount(3);
    await archiveNow();
    const newer: string[] = [];
    for (let i = 0; i < 2; i++) {
      newer.push((await publish(account.id, { type: "order.paid", entity: { later: i } })).body.event.id);
    }
    const listed = (await get(account.id, "/v1/events?limit=100")).body.events.map((e: any) => e.id);
    expect(listed).toEqual([...ids, ...newer].reverse());
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await get(account.id, `/v1/events?limit=1${cursor ? `&cursor=${cursor}` : ""}`);
      paged.push(...page.body.events.map((e: any) => e.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(paged).toEqual(listed);
  });

  it("an archive of more objects than a page reads lists every event once, the export too", async () => {
    // One object per archiver run: a page reads 8 objects at most, so this log takes several, and
    // the last event of the first object a page did not read is where an event could fall through.
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, {
      url: `${env.RECEIVER_URL}/ok/${name}`,
      events: ["order.paid"],
    });
    const ids: string[] = [];
    for (let run = 0; run < 11; run++) {
      for (let i = 0; i < 2; i++) {
        ids.push((await publish(account.id, { type: "order.paid", entity: { run, i } })).body.event.id);
      }
      await waitForReceived(name, ids.length);
      for (const id of ids.slice(-2)) {
        await expect.poll(async () => (await get(account.id, `/v1/events/${id}`)).body.event?.status).toBe("delivered");
      }
      await archiveNow();
    }
    expect((await indexRows(account.id)).length).toBe(11);
    const walk = async (path: string, field: string, limit: number) => {
      const out: string[] = [];
      let cursor: string | null = null;
      do {
        const page: any = await get(account.id, `${path}?limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
        expect(page.status).toBe(200);
        out.push(...page.body[field].map((e: any) => e.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      return out;
    };
    const newestFirst = [...ids].reverse();
    // One attempt per event, sent in whatever order the queue ran them: attempts list by their own id.
    const attemptIds = (await archivedEvents(account.id))
      .flatMap((o) => o.events.flatMap((e) => e.deliveries.flatMap((d) => d.tries.map((t) => t.id))))
      .sort()
      .reverse();
    expect(attemptIds).toHaveLength(ids.length);
    for (const limit of [100, 7, 2]) {
      expect(await walk("/v1/events", "events", limit), `events, limit=${limit}`).toEqual(newestFirst);
      expect(await walk(`/v1/webhooks/${webhook.id}/attempts`, "attempts", limit), `attempts, limit=${limit}`).toEqual(
        attemptIds,
      );
    }
    const exported = (await exportText(account.id))
      .trim()
      .split("\n")
      .map((l: string) => JSON.parse(l).id);
    expect(exported).toEqual(newestFirst);
  });

  it("a crash between the archive write and the D1 delete neither loses nor duplicates an event", async () => {
    const { account, webhook, ids } = await deliveredAccount(3);
    const before = await everyView(account.id, webhook.id);
    // The object is written, then the Worker dies before the D1 batch.
    const crashing = {
      put: async (...args: Parameters<R2Bucket["put"]>) => {
        const written = await env.HISTORY.put(...args);
        if (args[0].includes(account.id)) throw new Error("the isolate died here");
        return written;
      },
      get: (key: string) => env.HISTORY.get(key),
      delete: (keys: string | string[]) => env.HISTORY.delete(keys),
      list: (options?: R2ListOptions) => env.HISTORY.list(options),
    } as unknown as R2Bucket;
    await expect(archiveNow({ HISTORY: crashing })).rejects.toThrow("the isolate died here");
    // Still in D1, and the object nobody indexed is never read: each event shows once.
    expect((await d1Rows(account.id)).events).toBe(3);
    expect(await archivedEvents(account.id)).toHaveLength(1);
    expect(await indexRows(account.id)).toEqual([]);
    expect(await everyView(account.id, webhook.id)).toEqual(before);

    // The next run moves them; still once each, whatever the orphan holds.
    await archiveNow();
    expect(await d1Rows(account.id)).toEqual({ events: 0, deliveries: 0, attempts: 0 });
    const after = await everyView(account.id, webhook.id);
    expect(after).toEqual(before);
    expect(
      after.exported
        .trim()
        .split("\n")
        .map((l: string) => JSON.parse(l).id),
    ).toEqual([...ids].reverse());
  });

  it("two archive runs at once on one clock (the cron and a manual run) lose nothing: the loser never deletes the winner's object", async () => {
    const { account, webhook } = await deliveredAccount(3);
    const before = await everyView(account.id, webhook.id);
    // A Worker's clock stands still between I/O: both runs describe their object at the same instant.
    const at = Date.now();
    await Promise.all([archiveNow({}, at), archiveNow({}, at)]);
    expect((await d1Rows(account.id)).events).toBe(0);
    const indexed = await indexRows(account.id);
    expect(indexed).toHaveLength(1);
    // The object the index names is there, and holds the three events.
    const objects = await archivedEvents(account.id);
    expect(objects.map((o) => o.key)).toEqual(indexed.map((r) => r.key));
    expect(objects[0]?.events).toHaveLength(3);
    expect(await everyView(account.id, webhook.id)).toEqual(before);
  });

  it("a change between the read and the move (a retry by hand) stops the move: nothing leaves D1, the object goes", async () => {
    const { account, ids, name } = await deliveredAccount(1);
    const detail = (await get(account.id, `/v1/events/${ids[0]}`)).body.event;
    const deliveryId = detail.deliveries[0].id;
    let retried = false;
    const interfering = {
      put: async (...args: Parameters<R2Bucket["put"]>) => {
        const written = await env.HISTORY.put(...args);
        if (!retried && args[0].includes(account.id)) {
          retried = true;
          const r = await call("POST", `/v1/deliveries/${deliveryId}/retry`, { token: ADMIN, accountId: account.id });
          expect(r.status).toBe(202);
        }
        return written;
      },
      get: (key: string) => env.HISTORY.get(key),
      delete: (keys: string | string[]) => env.HISTORY.delete(keys),
      list: (options?: R2ListOptions) => env.HISTORY.list(options),
    } as unknown as R2Bucket;
    await archiveNow({ HISTORY: interfering });
    expect(retried).toBe(true);
    expect((await d1Rows(account.id)).events).toBe(1);
    expect(await archivedEvents(account.id)).toEqual([]);
    // The retry goes through; then the event moves with both attempts.
    await waitForReceived(name, 2);
    await expect
      .poll(async () => (await get(account.id, `/v1/events/${ids[0]}`)).body.event.deliveries[0].attempts.length)
      .toBe(2);
    await archiveNow();
    expect((await d1Rows(account.id)).events).toBe(0);
    const [object] = await archivedEvents(account.id);
    expect(object?.events[0]?.deliveries[0]?.tries).toHaveLength(2);
  });

  it("an archived delivery can be retried: its event comes back to D1, is sent with the same webhook-id, and is listed once", async () => {
    const { account, ids, name } = await deliveredAccount(2);
    await archiveNow();
    const detail = (await get(account.id, `/v1/events/${ids[0]}`)).body.event;
    const retried = await call("POST", `/v1/deliveries/${detail.deliveries[0].id}/retry`, {
      token: ADMIN,
      accountId: account.id,
    });
    expect(retried.status).toBe(202);
    const reqs = await waitForReceived(name, 3);
    const first = reqs.filter((r) => r.headers["webhook-id"] === ids[0]);
    expect(first).toHaveLength(2);
    expect(first[1]!.body).toBe(first[0]!.body);
    await expect
      .poll(async () => (await get(account.id, `/v1/events/${ids[0]}`)).body.event.deliveries[0].attempts.length)
      .toBe(2);
    const listed = (await get(account.id, "/v1/events")).body.events.map((e: any) => e.id);
    expect(listed).toEqual([...ids].reverse());
    // It left its object: the archive holds the other event only.
    expect((await archivedEvents(account.id)).flatMap((o) => o.events.map((e) => e.id))).toEqual([ids[1]]);
  });

  it("an unknown delivery or event is 404 after the archive too; filters are validated", async () => {
    const { account } = await deliveredAccount(1);
    await archiveNow();
    expect(
      (await call("POST", "/v1/deliveries/dlv_0000000000nothing/retry", { token: ADMIN, accountId: account.id }))
        .status,
    ).toBe(404);
    expect((await get(account.id, "/v1/events/evt_missing")).status).toBe(404);
    const bad = await get(account.id, "/v1/events?status=lost&since=yesterday");
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("validation_failed");
    const badExport = await get(account.id, "/v1/events/export?until=soon");
    expect(badExport.status).toBe(400);
    expect(badExport.body.error.details[0].path).toBe("until");
  });
});

describe("deletion reaches the archive", () => {
  it("DELETE /v1/events/{id}/content rewrites the archived event without its content", async () => {
    const { account, webhook, ids } = await deliveredAccount(2);
    await archiveNow();
    const res = await call("DELETE", `/v1/events/${ids[0]}/content`, { token: ADMIN, accountId: account.id });
    expect(res.status).toBe(200);
    expect(res.body.event).toMatchObject({ id: ids[0], entity: {} });
    expect(res.body.event.contentDeletedAt).not.toBeNull();
    const stored = (await archivedEvents(account.id)).flatMap((o) => o.events);
    const gone = stored.find((e) => e.id === ids[0]);
    expect(gone?.entity).toEqual({});
    expect(JSON.stringify(gone)).not.toContain("secret-0");
    expect(JSON.stringify(stored.find((e) => e.id === ids[1]))).toContain("secret-1");
    const detail = (await get(account.id, `/v1/events/${ids[0]}`)).body.event;
    expect(detail.entity).toEqual({});
    expect(detail.deliveries[0].attempts[0].requestBody).toBeNull();
    const attempts = (await get(account.id, `/v1/webhooks/${webhook.id}/attempts`)).body.attempts;
    expect(attempts.find((a: any) => a.eventId === ids[0]).requestBody).toBeNull();
    const audit = await get(account.id, "/v1/audit-log?action=event.content_deleted");
    expect(audit.body.entries.map((e: any) => e.target.id)).toEqual([ids[0]]);
  });

  it("retention deletes archive objects past WEBHOOK_RETENTION_DAYS, from R2 and the index", async () => {
    const { account, ids } = await deliveredAccount(2);
    await archiveNow();
    expect(await archivedEvents(account.id)).toHaveLength(1);
    const ctx = createExecutionContext();
    // 29 days on: kept. 31 days on: gone.
    expect(await compose(env, ctx, { now: () => Date.now() + 29 * DAY }).history.expire()).toBe(0);
    expect(await archivedEvents(account.id)).toHaveLength(1);
    expect(await compose(env, ctx, { now: () => Date.now() + 31 * DAY }).history.expire()).toBeGreaterThanOrEqual(1);
    expect(await archivedEvents(account.id)).toEqual([]);
    expect(await indexRows(account.id)).toEqual([]);
    expect((await get(account.id, `/v1/events/${ids[0]}`)).status).toBe(404);
    expect((await get(account.id, "/v1/events")).body.events).toEqual([]);
  });
});

describe("the cron's archiver", () => {
  it("leaves events in D1 for HISTORY_HOT_HOURS, and events still being delivered whatever their age", async () => {
    const { account, webhook, ids } = await deliveredAccount(1);
    // A pending delivery (due in an hour) keeps its event in D1.
    const now = Date.now();
    const hanging = newId("evt", now);
    await insertEvent({
      id: hanging,
      accountId: account.id,
      type: "misc.happened",
      createdAt: now,
      deliveries: [{ webhookId: webhook.id, nextAttemptAt: now + 3_600_000 }],
    });
    // The default window (72 h): nothing moves now; four days on, the final one does.
    await archiveNow({ HISTORY_HOT_HOURS: "72" });
    expect((await d1Rows(account.id)).events).toBe(2);
    await archiveNow({ HISTORY_HOT_HOURS: "72" }, Date.now() + 4 * DAY);
    const left = await env.DB.prepare("SELECT id FROM events WHERE account_id = ?").bind(account.id).all<any>();
    expect(left.results.map((r) => r.id)).toEqual([hanging]);
    expect((await archivedEvents(account.id)).flatMap((o) => o.events.map((e) => e.id))).toContain(ids[0]);
  });
});

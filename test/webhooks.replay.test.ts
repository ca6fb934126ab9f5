import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { compose } from "../src/compose";
import { ADMIN, call, createAccount } from "./helpers/api";
import { createWebhook, publish, received, uniqueName, waitForReceived } from "./helpers/webhooks";

const as = (accountId: string) => ({ token: ADMIN, accountId });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cron's archiver with a hot window of 0: every final event moves to R2. */
async function archiveNow() {
  const ctx = createExecutionContext();
  const moved = await compose({ ...env, HISTORY_HOT_HOURS: "0" } as Env, ctx).history.archive();
  await waitOnExecutionContext(ctx);
  return moved;
}

const setStatus = (accountId: string, id: string, status: "active" | "disabled") =>
  call("PATCH", `/v1/webhooks/${id}`, { ...as(accountId), body: { status } });

const replay = (accountId: string, id: string, body: Record<string, unknown>) =>
  call("POST", `/v1/webhooks/${id}/replay`, { ...as(accountId), body });

async function publishAll(accountId: string, n: number, type = "order.paid") {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await publish(accountId, { type, entity: { i } })).body.event.id);
  return ids;
}

const idsSeen = async (name: string) => (await received(name)).map((r) => r.headers["webhook-id"]);

describe("replay what a webhook missed", () => {
  it("events published while it was disabled are delivered once, in order, paced; a second replay sends nothing", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, {
      url: `${env.RECEIVER_URL}/ok/${name}`,
      events: ["order.paid"],
    });
    const since = new Date(Date.now() - 1000).toISOString();
    const [first] = await publishAll(account.id, 1);
    await waitForReceived(name, 1);
    await setStatus(account.id, webhook.id, "disabled");
    const missed = await publishAll(account.id, 6);
    await publishAll(account.id, 2, "order.refunded"); // not its type: never replayed
    // A disabled webhook cannot be replayed to.
    expect((await replay(account.id, webhook.id, { since })).status).toBe(409);
    await setStatus(account.id, webhook.id, "active");
    const [after] = await publishAll(account.id, 1);
    await waitForReceived(name, 2);

    const res = await replay(account.id, webhook.id, { since });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ replayed: 6, nextSince: null });
    const got = await waitForReceived(name, 8);
    const replayed = got.slice(2);
    expect(replayed.map((r) => r.headers["webhook-id"])).toEqual(missed);
    // At most 10 a second: six sends span at least five slots (100 ms each), less the first's lateness.
    const span = (replayed.at(-1)?.at ?? 0) - (replayed[0]?.at ?? 0);
    expect(span).toBeGreaterThanOrEqual(400);

    // The same range again: nothing is sent twice.
    const again = await replay(account.id, webhook.id, { since });
    expect(again.body.replayed).toBe(0);
    await sleep(1200);
    const seen = await idsSeen(name);
    expect(seen).toHaveLength(8);
    expect(new Set(seen).size).toBe(8);
    expect(seen.slice(0, 2)).toEqual([first, after]);
    // The event log shows each replayed event delivered to it.
    const detail = await call("GET", `/v1/events/${missed[0]}`, as(account.id));
    expect(detail.body.event.deliveries.map((d: any) => [d.webhookId, d.status])).toEqual([[webhook.id, "succeeded"]]);
  });

  it("two replays of one range at once send each event once", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    await setStatus(account.id, webhook.id, "disabled");
    const missed = await publishAll(account.id, 5);
    await setStatus(account.id, webhook.id, "active");
    const since = new Date(Date.now() - 60_000).toISOString();
    const both = await Promise.all([
      replay(account.id, webhook.id, { since }),
      replay(account.id, webhook.id, { since }),
    ]);
    expect(both.map((r) => r.status)).toEqual([202, 202]);
    expect(both.reduce((n, r) => n + r.body.replayed, 0)).toBe(5);
    await waitForReceived(name, 5);
    await sleep(1200);
    expect((await idsSeen(name)).sort()).toEqual([...missed].sort());
  });

  it("a failed delivery is replayed (to the fixed URL); a delivered one is not", async () => {
    const account = await createAccount();
    const broken = uniqueName();
    const fixed = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/status/500/${broken}` });
    const [event] = await publishAll(account.id, 1);
    // The test schedule retries 3 times, 1 s apart: then the delivery is failed.
    await expect
      .poll(async () => (await call("GET", `/v1/events/${event}`, as(account.id))).body.event.deliveries[0].status, {
        timeout: 15_000,
      })
      .toBe("failed");
    await call("PATCH", `/v1/webhooks/${webhook.id}`, {
      ...as(account.id),
      body: { url: `${env.RECEIVER_URL}/ok/${fixed}` },
    });
    const since = new Date(Date.now() - 60_000).toISOString();
    expect((await replay(account.id, webhook.id, { since })).body.replayed).toBe(1);
    const [req] = await waitForReceived(fixed, 1);
    expect(req!.headers["webhook-id"]).toBe(event);
    expect((await replay(account.id, webhook.id, { since })).body.replayed).toBe(0);
  });

  it("reaches into the archive: a missed event there comes back to D1, is sent, and is listed once", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    await setStatus(account.id, webhook.id, "disabled");
    const missed = await publishAll(account.id, 3);
    await archiveNow();
    const inD1 = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE account_id = ?")
      .bind(account.id)
      .first<any>();
    expect(inD1.n).toBe(0);
    await setStatus(account.id, webhook.id, "active");
    const res = await replay(account.id, webhook.id, { since: new Date(Date.now() - 60_000).toISOString() });
    expect(res.body.replayed).toBe(3);
    await waitForReceived(name, 3);
    expect(await idsSeen(name)).toEqual(missed);
    const log = await call("GET", "/v1/events?limit=100", as(account.id));
    expect(log.body.events.map((e: any) => e.id)).toEqual([...missed].reverse());
    const exported = await call("GET", "/v1/events/export", as(account.id));
    expect(exported.status).toBe(200);
  });

  it("bulk: every active webhook of the account; bad ranges are 400", async () => {
    const account = await createAccount();
    const a = uniqueName();
    const b = uniqueName();
    const one = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${a}` });
    const two = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${b}` });
    await setStatus(account.id, one.webhook.id, "disabled");
    await setStatus(account.id, two.webhook.id, "disabled");
    await publishAll(account.id, 2);
    await setStatus(account.id, one.webhook.id, "active");
    await setStatus(account.id, two.webhook.id, "active");
    const since = new Date(Date.now() - 60_000).toISOString();
    const res = await call("POST", "/v1/replays", { ...as(account.id), body: { since } });
    expect(res.status).toBe(202);
    expect(res.body.replayed).toBe(4);
    expect(res.body.webhooks.map((w: any) => w.id).sort()).toEqual([one.webhook.id, two.webhook.id].sort());
    await waitForReceived(a, 2);
    await waitForReceived(b, 2);

    const backwards = await replay(account.id, one.webhook.id, { since, until: "2020-01-01T00:00:00Z" });
    expect(backwards.status).toBe(400);
    expect((await replay(account.id, one.webhook.id, { since: "yesterday" })).status).toBe(400);
    expect((await replay(account.id, one.webhook.id, {})).status).toBe(400);
    expect((await replay(account.id, "wh_nope", { since })).status).toBe(404);
  });
});

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { ApiException, Svix, Webhook } from "svix";
import { describe, expect, it } from "vitest";
import { compose } from "../src/compose";
import { createDb } from "../src/db/client";
import { createIdempotency } from "../src/features/svix/idempotency";
import { ADMIN, BASE } from "./helpers/api";
import { received, uniqueName, waitForReceived } from "./helpers/webhooks";

/** The official client (svix@2.5.0), pointed at the Worker: only the server URL and the token change. */
const client = (token = ADMIN) =>
  new Svix(token, {
    serverUrl: BASE,
    fetch: ((input: RequestInfo | URL, init?: RequestInit) =>
      exports.default.fetch(new Request(input, init))) as typeof fetch,
  });

const svixSecret = () => `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))))}`;

/** What the call threw, as the client raises it. */
async function failure(call: Promise<unknown>) {
  try {
    await call;
  } catch (err) {
    if (err instanceof ApiException) return { code: err.code, body: err.body as any };
    throw err;
  }
  throw new Error("the call did not fail");
}

const raw = (
  method: string,
  path: string,
  body?: unknown,
  token: string | null = ADMIN,
  headers: Record<string, string> = {},
) =>
  exports.default.fetch(
    new Request(`${BASE}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        "content-type": "application/json",
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );

/**
 * A day later (the client's idempotency keys have let go of the application's messages), the
 * archiver with no hot window: answers how many of its events are left in D1.
 */
async function archiveApp(accountId: string) {
  await env.DB.prepare("UPDATE events SET idempotency_key = NULL WHERE account_id = ?").bind(accountId).run();
  const ctx = createExecutionContext();
  await compose({ ...env, HISTORY_HOT_HOURS: "0" } as Env, ctx).history.archive();
  await waitOnExecutionContext(ctx);
  const hot = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE account_id = ?")
    .bind(accountId)
    .first<{ n: number }>();
  return hot?.n;
}

describe("the Svix API: the official svix@2.5.0 client against Keyhook", () => {
  it("an application, an event type, an endpoint with its own secret, a message, its attempts; the receiver verifies with svix's Webhook", async () => {
    const svix = client();
    const uid = uniqueName();
    const app = await svix.application.create({ name: "Acme", uid });
    expect(app.id).toMatch(/^acc_/);
    expect(app.uid).toBe(uid);
    expect((await svix.application.getOrCreate({ name: "Acme", uid })).id).toBe(app.id);
    expect((await svix.application.get(uid)).id).toBe(app.id);

    const type = `invoice.paid${uid.slice(0, 6)}`;
    const eventType = await svix.eventType.create({ name: type, description: "An invoice was paid" });
    expect(eventType.name).toBe(type);
    expect((await failure(svix.eventType.create({ name: type, description: "again" }))).code).toBe(409);
    expect((await svix.eventType.get(type)).description).toBe("An invoice was paid");

    const name = uniqueName();
    const secret = svixSecret();
    const endpoint = await svix.endpoint.create(uid, {
      url: `${env.RECEIVER_URL}/ok/${name}`,
      secret,
      eventTypes: [type],
      description: "Acme's receiver",
    });
    expect(endpoint.id).toMatch(/^wh_/);
    expect(endpoint.eventTypes).toEqual([type]);
    expect((await svix.endpoint.getSecret(uid, endpoint.id)).key).toBe(secret);

    const payload = { type, invoice: { id: "in_1", amount: 4200, currency: "eur" } };
    const message = await svix.message.create(uid, { eventType: type, payload, eventId: `evt-${name}` });
    expect(message.id).toMatch(/^evt_/);
    expect(message.eventType).toBe(type);
    expect(message.eventId).toBe(`evt-${name}`);

    // The receiver: Svix's own verification, from the raw body and the svix-* headers alone.
    const [got] = await waitForReceived(name, 1);
    if (!got) throw new Error("nothing received");
    expect(got.body).toBe(JSON.stringify(payload));
    const headers = {
      "svix-id": got.headers["svix-id"] ?? "",
      "svix-timestamp": got.headers["svix-timestamp"] ?? "",
      "svix-signature": got.headers["svix-signature"] ?? "",
    };
    expect(headers["svix-id"]).toBe(message.id);
    expect(() => new Webhook(secret).verify(got.body, headers)).not.toThrow();

    // Its attempts, as the client reads them.
    await expect
      .poll(async () => (await svix.messageAttempt.listByMsg(uid, message.id)).data.length, { timeout: 5000 })
      .toBe(1);
    const attempts = await svix.messageAttempt.listByMsg(uid, message.id);
    expect(attempts.data[0]).toMatchObject({
      msgId: message.id,
      endpointId: endpoint.id,
      status: 0,
      responseStatusCode: 200,
    });
    expect(attempts.done).toBe(true);

    // The message by its id and by its eventId; the payload when asked for.
    expect((await svix.message.get(uid, message.id, { withContent: true })).payload).toEqual(payload);
    expect((await svix.message.get(uid, `evt-${name}`)).id).toBe(message.id);

    // The same eventId again: 409, and nothing sent twice.
    const again = await failure(svix.message.create(uid, { eventType: type, payload, eventId: `evt-${name}` }));
    expect(again.code).toBe(409);
    expect(again.body.code).toBe("conflict");
    expect(await received(name)).toHaveLength(1);
  });

  it("event-type names as Svix allows them (capitals, dashes, no dot): the catalog, two applications' endpoints, messages, /v1 too", async () => {
    const svix = client();
    const type = `Invoice-Paid_V2-${uniqueName().slice(1, 9)}`;
    await svix.eventType.create({ name: type, description: "Svix-style name" });
    const names = [uniqueName(), uniqueName()];
    const apps = await Promise.all(names.map((n) => svix.application.create({ name: n, uid: n })));
    for (const [i, app] of apps.entries()) {
      const endpoint = await svix.endpoint.create(app.id, {
        url: `${env.RECEIVER_URL}/ok/${names[i]}`,
        eventTypes: [type],
      });
      expect(endpoint.eventTypes).toEqual([type]);
      const message = await svix.message.create(app.id, { eventType: type, payload: { n: i } });
      expect(message.eventType).toBe(type);
    }
    for (const [i, name] of names.entries()) {
      const [got] = await waitForReceived(name!, 1);
      expect(JSON.parse(got!.body)).toEqual({ n: i });
    }
    // Keyhook's own API takes the same names: a webhook subscribed to it, an event published to it.
    const hook = uniqueName();
    const made = await raw("POST", "/v1/webhooks", { url: `${env.RECEIVER_URL}/ok/${hook}`, events: [type] }, ADMIN, {
      "x-account-id": apps[0]!.id,
    });
    expect(made.status).toBe(201);
    const published = await raw("POST", "/v1/events", { type, entity: { via: "v1" } }, ADMIN, {
      "x-account-id": apps[0]!.id,
    });
    expect(published.status).toBe(202);
    const [viaV1] = await waitForReceived(hook, 1);
    expect(JSON.parse(viaV1!.body)).toMatchObject({ event: type, entity: { via: "v1" } });
    // What Svix refuses is refused: a space, a slash, 257 characters.
    for (const bad of ["Invoice Paid", "a/b", "a".repeat(257)]) {
      const res = await raw("POST", "/v1/events", { type: bad, entity: {} }, ADMIN, { "x-account-id": apps[0]!.id });
      expect(res.status, bad).toBe(400);
      expect((await failure(svix.message.create(apps[0]!.id, { eventType: bad, payload: {} }))).code).toBe(422);
    }
  });

  it("PATCH: null clears, absent keeps — applications, endpoints, event types", async () => {
    const uid = uniqueName();
    const app = await (await raw("POST", "/api/v1/app", { name: "Patchable", uid })).json<any>();
    let patched = await (await raw("PATCH", `/api/v1/app/${app.id}`, { name: "Renamed" })).json<any>();
    expect(patched).toMatchObject({ name: "Renamed", uid });
    patched = await (await raw("PATCH", `/api/v1/app/${app.id}`, { uid: null })).json<any>();
    expect(patched.name).toBe("Renamed");
    expect(patched.uid).toBeUndefined();

    const made = await raw("POST", `/api/v1/app/${app.id}/endpoint`, {
      url: "https://example.com/hooks",
      description: "kept",
      eventTypes: ["a.b"],
      channels: ["c1"],
      throttleRate: 5,
      uid: `ep-${uid}`,
      metadata: { team: "billing" },
    });
    const ep = await made.json<any>();
    const patch = async (change: unknown) =>
      (await raw("PATCH", `/api/v1/app/${app.id}/endpoint/${ep.id}`, change)).json<any>();
    let now = await patch({ url: "https://example.com/v2" });
    expect(now).toMatchObject({
      url: "https://example.com/v2",
      description: "kept",
      eventTypes: ["a.b"],
      channels: ["c1"],
      throttleRate: 5,
      uid: `ep-${uid}`,
      metadata: { team: "billing" },
    });
    now = await patch({ description: null, eventTypes: null, channels: null, throttleRate: null, uid: null });
    expect(now.url).toBe("https://example.com/v2");
    expect(now.description).toBe("");
    expect(now.eventTypes).toBeUndefined();
    expect(now.channels).toBeUndefined();
    expect(now.throttleRate).toBeUndefined();
    expect(now.uid).toBeUndefined();
    expect(now.metadata).toEqual({ team: "billing" });
    now = await patch({ metadata: null });
    expect(now.metadata).toEqual({});

    const type = `patch.me${uid.slice(1, 8)}`;
    await raw("POST", "/api/v1/event-type", {
      name: type,
      description: "Described",
      groupName: "billing",
      schemas: { "1": { type: "object" } },
    });
    const typePatch = async (change: unknown) => (await raw("PATCH", `/api/v1/event-type/${type}`, change)).json<any>();
    let t = await typePatch({ deprecated: true });
    expect(t).toMatchObject({ description: "Described", groupName: "billing", deprecated: true });
    expect(t.schemas).toEqual({ "1": { type: "object" } });
    t = await typePatch({ groupName: null, schemas: null });
    expect(t.description).toBe("Described");
    expect(t.groupName).toBeUndefined();
    expect(t.schemas).toBeUndefined();
    expect(t.deprecated).toBe(true);

    // The deployment's catalog is audited in the deployment's log, with the change.
    expect((await raw("DELETE", `/api/v1/event-type/${type}?expunge=true`)).status).toBe(204);
    const log = await (await raw("GET", `/v1/deployment/audit-log?targetId=${type}`)).json<any>();
    expect(log.entries.map((e: any) => e.action)).toEqual([
      "event_type.deleted",
      "event_type.updated",
      "event_type.updated",
      "event_type.created",
    ]);
    expect(log.entries[1].changes).toEqual({
      groupName: { before: "billing", after: null },
      schemaVersions: { before: ["1"], after: null },
    });
    expect(log.entries[3].actor).toMatchObject({ type: "operator" });
  });

  it("endpoint stats (D1 and the archive) and one attempt's content expunged — the last two of Svix's 41 operations", async () => {
    const svix = client();
    const uid = uniqueName();
    const app = await svix.application.create({ name: "Stats", uid });
    const [ok, failing] = [uniqueName(), uniqueName()];
    const good = await svix.endpoint.create(uid, { url: `${env.RECEIVER_URL}/ok/${ok}` });
    const bad = await svix.endpoint.create(uid, { url: `${env.RECEIVER_URL}/status/410/${failing}` });
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await svix.message.create(uid, { eventType: "stat.sent", payload: { i } }));
    await waitForReceived(ok, 3);
    await waitForReceived(failing, 1);
    await expect.poll(async () => (await svix.endpoint.getStats(uid, good.id)).success, { timeout: 5000 }).toBe(3);
    expect(await svix.endpoint.getStats(uid, good.id)).toEqual({ success: 3, pending: 0, sending: 0, fail: 0 });
    // 410 disables the endpoint and fails what it had.
    await expect.poll(async () => (await svix.endpoint.getStats(uid, bad.id)).fail, { timeout: 5000 }).toBe(3);
    // A window before any of it: nothing.
    const before = new Date(Date.now() - 3_600_000);
    expect(await svix.endpoint.getStats(uid, good.id, { until: before })).toEqual({
      success: 0,
      pending: 0,
      sending: 0,
      fail: 0,
    });

    const message = sent[0]!;
    const [attempt] = (await svix.messageAttempt.listByMsg(uid, message.id)).data.filter(
      (a) => a.endpointId === good.id,
    );
    expect(attempt!.response).toMatch(/^ok/);
    await svix.messageAttempt.expungeContent(uid, message.id, attempt!.id);
    const after = await svix.messageAttempt.get(uid, message.id, attempt!.id);
    expect(after.response).toBe("");
    expect(after.responseStatusCode).toBe(200);
    const missing = await failure(svix.messageAttempt.expungeContent(uid, message.id, "att_nope"));
    expect(missing.code).toBe(404);

    // Moved to the archive (R2): the same counts, and the expunged body stays gone.
    expect(await archiveApp(app.id)).toBe(0);
    expect(await svix.endpoint.getStats(uid, good.id)).toMatchObject({ success: 3, pending: 0, fail: 0 });
    expect((await svix.messageAttempt.get(uid, message.id, attempt!.id)).response).toBe("");
    const other = (await svix.messageAttempt.listByMsg(uid, sent[1]!.id)).data.find((a) => a.endpointId === good.id);
    await svix.messageAttempt.expungeContent(uid, sent[1]!.id, other!.id);
    expect((await svix.messageAttempt.get(uid, sent[1]!.id, other!.id)).response).toBe("");
  });

  it("a message's channels and tags: kept, shown, and filtered by (D1 and the archive), /v1 too", async () => {
    const svix = client();
    const uid = uniqueName();
    const app = await svix.application.create({ name: "Labels", uid });
    const first = await svix.message.create(uid, {
      eventType: "label.sent",
      payload: { n: 1 },
      channels: ["project-1"],
      tags: ["vip", "eu/west"],
    });
    expect(first).toMatchObject({ channels: ["project-1"], tags: ["vip", "eu/west"] });
    const second = await svix.message.create(uid, { eventType: "label.sent", payload: { n: 2 }, tags: ["eu/west"] });
    await svix.message.create(uid, { eventType: "label.sent", payload: { n: 3 } });
    const ids = async (options: { channel?: string; tag?: string }) =>
      (await svix.message.list(uid, options)).data.map((m) => m.id);
    const check = async () => {
      expect((await svix.message.get(uid, first.id)).channels).toEqual(["project-1"]);
      expect((await svix.message.get(uid, first.id)).tags).toEqual(["vip", "eu/west"]);
      expect(await ids({ channel: "project-1" })).toEqual([first.id]);
      expect(await ids({ tag: "eu/west" })).toEqual([second.id, first.id]);
      expect(await ids({ tag: "vip" })).toEqual([first.id]);
      expect(await ids({ tag: "none" })).toEqual([]);
      const v1 = await raw("GET", "/v1/events?tag=vip", undefined, ADMIN, { "x-account-id": app.id });
      expect((await v1.json<any>()).events.map((e: any) => [e.id, e.tags])).toEqual([[first.id, ["vip", "eu/west"]]]);
    };
    await check();
    // In the archive: the same.
    expect(await archiveApp(app.id)).toBe(0);
    await check();
    // Bad tags are Svix's 422.
    expect(
      (await failure(svix.message.create(uid, { eventType: "label.sent", payload: {}, tags: ["a b"] }))).code,
    ).toBe(422);
  });

  it("endpoints: list, patch (null clears the event types), disable, rotate the secret, delete", async () => {
    const svix = client();
    const uid = uniqueName();
    await svix.application.create({ name: "Beta", uid });
    const endpoint = await svix.endpoint.create(uid, { url: "https://example.com/hook", eventTypes: ["a.b"] });
    const listed = await svix.endpoint.list(uid);
    expect(listed.data.map((e) => e.id)).toEqual([endpoint.id]);
    expect(listed.done).toBe(true);
    const patched = await svix.endpoint.patch(uid, endpoint.id, { eventTypes: null, disabled: true });
    expect(patched.eventTypes).toBeUndefined();
    expect(patched.disabled).toBe(true);
    const before = (await svix.endpoint.getSecret(uid, endpoint.id)).key;
    await svix.endpoint.rotateSecret(uid, endpoint.id, {});
    expect((await svix.endpoint.getSecret(uid, endpoint.id)).key).not.toBe(before);
    await svix.endpoint.delete(uid, endpoint.id);
    expect((await failure(svix.endpoint.get(uid, endpoint.id))).code).toBe(404);
    await svix.application.delete(uid);
    expect((await failure(svix.application.get(uid))).code).toBe(404);
  });

  it("an endpoint's uid, channels and metadata: kept, shown, addressed by uid; channels route messages", async () => {
    const svix = client();
    const uid = uniqueName();
    await svix.application.create({ name: "Delta", uid });
    const [onChannel, anyChannel] = [uniqueName(), uniqueName()];
    const withChannels = await svix.endpoint.create(uid, {
      url: `${env.RECEIVER_URL}/ok/${onChannel}`,
      uid: "orders-ep",
      channels: ["ch-a", "ch-b"],
      metadata: { team: "billing" },
    });
    expect(withChannels).toMatchObject({ uid: "orders-ep", channels: ["ch-a", "ch-b"], metadata: { team: "billing" } });
    await svix.endpoint.create(uid, { url: `${env.RECEIVER_URL}/ok/${anyChannel}` });
    expect((await svix.endpoint.get(uid, "orders-ep")).id).toBe(withChannels.id);
    // A second endpoint with the same uid: 409.
    expect((await failure(svix.endpoint.create(uid, { url: "https://example.com/x", uid: "orders-ep" }))).code).toBe(
      409,
    );
    // PATCH with event types keeps the channels (the kitchen sink's check); null clears them.
    const patched = await svix.endpoint.patch(uid, "orders-ep", { eventTypes: ["order.paid", "order.refunded"] });
    expect(patched.channels).toEqual(["ch-a", "ch-b"]);
    expect(patched.eventTypes?.sort()).toEqual(["order.paid", "order.refunded"]);
    // Routing: a channel of the endpoint's reaches it; none, or another, does not. The endpoint
    // without channels takes every message.
    await svix.message.create(uid, { eventType: "order.paid", payload: { n: 1 }, channels: ["ch-b"] });
    await svix.message.create(uid, { eventType: "order.paid", payload: { n: 2 } });
    await svix.message.create(uid, { eventType: "order.paid", payload: { n: 3 }, channels: ["ch-z"] });
    const all = await waitForReceived(anyChannel, 3);
    expect(all.map((r) => JSON.parse(r.body).n).sort()).toEqual([1, 2, 3]);
    const only = await received(onChannel);
    expect(only.map((r) => JSON.parse(r.body).n)).toEqual([1]);
    const cleared = await svix.endpoint.patch(uid, withChannels.id, { channels: null });
    expect(cleared.channels).toBeUndefined();
  });

  it("headers, message lists, destinations, attempts by endpoint, resend, recover, replay-missing, expunge, the portal", async () => {
    const svix = client();
    const uid = uniqueName();
    await svix.application.create({ name: "Epsilon", uid });
    const name = uniqueName();
    const ep = await svix.endpoint.create(uid, { url: `${env.RECEIVER_URL}/ok/${name}` });
    await svix.endpoint.setHeaders(uid, ep.id, { headers: { "x-team": "billing", "x-env": "prod" } });
    await svix.endpoint.patchHeaders(uid, ep.id, { headers: { "x-env": "staging" }, deleteHeaders: ["x-team"] });
    expect((await svix.endpoint.getHeaders(uid, ep.id)).headers).toEqual({ "x-env": "staging" });

    const msg = await svix.message.create(uid, { eventType: "order.paid", payload: { n: 1 } });
    await waitForReceived(name, 1);
    expect((await received(name))[0]?.headers["x-env"]).toBe("staging");
    expect((await svix.message.list(uid)).data.map((x) => x.id)).toContain(msg.id);
    await expect
      .poll(async () => (await svix.messageAttempt.listByEndpoint(uid, ep.id)).data.length, { timeout: 5000 })
      .toBe(1);
    const destinations = await svix.messageAttempt.listAttemptedDestinations(uid, msg.id);
    expect(destinations.data[0]).toMatchObject({ id: ep.id, status: 0 });

    await svix.messageAttempt.resend(uid, msg.id, ep.id);
    await waitForReceived(name, 2);
    const since = new Date(Date.now() - 3_600_000);
    expect((await svix.endpoint.recover(uid, ep.id, { since })).status).toBe("finished");
    expect((await svix.endpoint.replayMissing(uid, ep.id, { since })).status).toBe("finished");

    await svix.message.expungeContent(uid, msg.id);
    expect((await svix.message.get(uid, msg.id, { withContent: true })).payload).toEqual({});

    const portal = await svix.authentication.appPortalAccess(uid, {});
    expect(portal.url).toMatch(/\/portal\/open\?token=khp_/);
    expect(portal.token).toMatch(/^khp_/);
  });

  it("endpoint upsert by uid, send-example, one attempt, attempted messages, logout", async () => {
    const svix = client();
    const uid = uniqueName();
    await svix.application.create({ name: "Zeta", uid });
    const name = uniqueName();
    const created = await svix.endpoint.upsert(uid, "zeta-ep", { url: "https://example.com/first" });
    expect(created).toMatchObject({ uid: "zeta-ep", url: "https://example.com/first" });
    const updated = await svix.endpoint.upsert(uid, "zeta-ep", { url: `${env.RECEIVER_URL}/ok/${name}` });
    expect(updated.id).toBe(created.id);
    expect(updated.url).toBe(`${env.RECEIVER_URL}/ok/${name}`);

    const example = await svix.endpoint.sendExample(uid, "zeta-ep", { eventType: "order.paid" });
    expect(example.eventType).toBe("order.paid");
    await waitForReceived(name, 1);
    await expect
      .poll(async () => (await svix.messageAttempt.listByMsg(uid, example.id)).data.length, { timeout: 5000 })
      .toBe(1);
    const [attempt] = (await svix.messageAttempt.listByMsg(uid, example.id)).data;
    if (!attempt) throw new Error("no attempt");
    expect((await svix.messageAttempt.get(uid, example.id, attempt.id)).id).toBe(attempt.id);
    const messages = await svix.messageAttempt.listAttemptedMessages(uid, created.id);
    expect(messages.data.map((x) => x.id)).toContain(example.id);
    expect(messages.data[0]).toMatchObject({ status: 0 });
    await svix.authentication.logout();
  });

  it("a retry with the same idempotency-key creates nothing twice: applications, endpoints, messages", async () => {
    const key = { "idempotency-key": `auto_${crypto.randomUUID()}` };
    const first = await raw("POST", "/api/v1/app", { name: "Retry Co" }, ADMIN, key);
    expect(first.status).toBe(201);
    const again = await raw("POST", "/api/v1/app", { name: "Retry Co" }, ADMIN, key);
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const app = (await first.json()) as { id: string };
    expect(((await again.json()) as { id: string }).id).toBe(app.id);
    // The same key on another request: refused, nothing made.
    const other = await raw("POST", `/api/v1/app/${app.id}/endpoint`, { url: "https://example.com/h" }, ADMIN, key);
    expect(other.status).toBe(422);

    const name = uniqueName();
    const epKey = { "idempotency-key": `auto_${crypto.randomUUID()}` };
    const endpoint = { url: `${env.RECEIVER_URL}/ok/${name}` };
    const e1 = (await (await raw("POST", `/api/v1/app/${app.id}/endpoint`, endpoint, ADMIN, epKey)).json()) as any;
    const e2 = (await (await raw("POST", `/api/v1/app/${app.id}/endpoint`, endpoint, ADMIN, epKey)).json()) as any;
    expect(e2.id).toBe(e1.id);
    expect((await client().endpoint.list(app.id)).data).toHaveLength(1);

    const msgKey = { "idempotency-key": `auto_${crypto.randomUUID()}` };
    const message = { eventType: "order.paid", payload: { n: 1 } };
    const m1 = (await (await raw("POST", `/api/v1/app/${app.id}/msg`, message, ADMIN, msgKey)).json()) as any;
    const m2 = (await (await raw("POST", `/api/v1/app/${app.id}/msg`, message, ADMIN, msgKey)).json()) as any;
    expect(m2.id).toBe(m1.id);
    await waitForReceived(name, 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(await received(name)).toHaveLength(1);
  });

  it("kept answers expire after 24 h (the cron prunes them)", async () => {
    const db = createDb(env.DB);
    const key = `test:${crypto.randomUUID()}`;
    const now = Date.now();
    const idempotency = createIdempotency(db, () => now);
    expect((await idempotency.claim(key, "POST /api/v1/app")).kind).toBe("run");
    await idempotency.settle(key, 201, "{}");
    expect(await idempotency.claim(key, "POST /api/v1/app")).toEqual({ kind: "replay", status: 201, body: "{}" });
    const later = createIdempotency(db, () => now + 25 * 3_600_000);
    expect(await later.prune()).toBeGreaterThanOrEqual(1);
    expect((await later.claim(key, "POST /api/v1/app")).kind).toBe("run");
  });

  it("bad input gets Svix's error shapes, never a 500", async () => {
    const svix = client();
    const uid = uniqueName();
    await svix.application.create({ name: "Gamma", uid });
    const badUrl = await failure(svix.endpoint.create(uid, { url: "not a url" }));
    expect(badUrl.code).toBe(422);
    expect(badUrl.body.detail[0].loc).toEqual(["body", "url"]);
    const badType = await failure(svix.message.create(uid, { eventType: "no spaces allowed", payload: {} }));
    expect(badType.code).toBe(422);
    expect(badType.body.detail[0].loc).toEqual(["body", "eventType"]);
    const shortSecret = await failure(
      svix.endpoint.create(uid, { url: "https://example.com/h", secret: "whsec_short" }),
    );
    expect(shortSecret.code).toBe(422);
    expect(shortSecret.body.detail[0].loc).toEqual(["body", "secret"]);
    expect((await failure(svix.application.get("no-such-app"))).body).toMatchObject({ code: "not_found" });
    expect((await failure(client("not-the-token").application.list())).body).toMatchObject({
      code: "authentication_failed",
    });
    const notJson = await exports.default.fetch(
      new Request(`${BASE}/api/v1/app`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` }, body: "{" }),
    );
    expect(notJson.status).toBe(422);
    const unknown = await raw("GET", "/api/v1/stats/usage/app");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: "not_found" });
    const noToken = await raw("GET", "/api/v1/app", undefined, null);
    expect(noToken.status).toBe(401);
    expect((await raw("GET", "/api/v1/health", undefined, null)).status).toBe(204);
  });
});

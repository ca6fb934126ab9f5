import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import * as oauth from "oauth4webapi";
import { beforeEach, describe, expect, it } from "vitest";
import { compose } from "../src/compose";
import { decodeArchive } from "../src/features/history/archive-object";
import { parseDeliveryId } from "../src/features/history/stored-event";
import { tracking } from "../src/features/ratelimit/sharded-counter";
import worker from "../src/index";
import { SYSTEM_AUDIT } from "../src/lib/caller";
import { newId } from "../src/lib/encoding";
import { ADMIN, call, createAccount, createKey, userToken } from "./helpers/api";
import { createClient, discover, tokensFor } from "./helpers/oauth";
import {
  addPendingDelivery,
  attemptsOfEvent,
  createWebhook,
  deliveryRow,
  insertEvent,
  publish,
  received,
  storedEvent,
  uniqueName,
  waitForReceived,
} from "./helpers/webhooks";

const DAY = 86_400_000;

async function cron(useEnv: Env = env) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }), useEnv, ctx);
  await waitOnExecutionContext(ctx);
}

const attemptsOf = async (accountId: string, webhookId: string) =>
  (await call("GET", `/v1/webhooks/${webhookId}/attempts`, { token: ADMIN, accountId })).body.attempts as any[];

/** A pending delivery of `eventId` to `webhookId`, due in an hour (no message: nothing sends it meanwhile). */
const pendingDelivery = (_accountId: string, eventId: string, webhookId: string) =>
  addPendingDelivery(eventId, webhookId, Date.now() + 3_600_000);

describe("DELETE /v1/events/:id/content", () => {
  it("expunges the entity and the attempts' bodies, cancels pending deliveries, keeps the metadata, is audited once", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const ok = (await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}`, events: ["order.paid"] }))
      .webhook;
    const other = (await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${uniqueName()}`, events: ["x.y"] }))
      .webhook;
    const secret = "card-4242-4242";
    const published = await publish(account.id, { type: "order.paid", entity: { id: "ord_1", card: secret } });
    const eventId = published.body.event.id as string;
    await waitForReceived(name, 1);
    await expect.poll(async () => (await attemptsOf(account.id, ok.id)).length).toBe(1);
    const [before] = await attemptsOf(account.id, ok.id);
    expect(before.requestBody).toContain(secret);
    expect(before.responseBody).toContain("ok");
    const pending = await pendingDelivery(account.id, eventId, other.id);

    const { key } = await createKey(account.id, { scopes: ["events:write"] });
    const res = await call("DELETE", `/v1/events/${eventId}/content`, { apiKey: key });
    expect(res.status).toBe(200);
    expect(res.body.event).toMatchObject({ id: eventId, type: "order.paid", entity: {} });
    expect(Date.parse(res.body.event.contentDeletedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(res.body.cancelledDeliveries).toEqual([pending]);

    // The history keeps the attempt (status, time, headers) without its bodies.
    const [after] = await attemptsOf(account.id, ok.id);
    expect(after).toMatchObject({
      id: before.id,
      responseStatus: 200,
      succeeded: true,
      requestBody: null,
      responseBody: null,
    });
    expect(after.requestHeaders["webhook-id"]).toBe(eventId);
    const stored = await storedEvent(eventId);
    expect(stored).toMatchObject({ entity: "{}", type: "order.paid" });
    expect(JSON.stringify(stored)).not.toContain(secret);
    expect(await deliveryRow(pending)).toMatchObject({ status: "cancelled", next_attempt_at: null });

    // A cancelled delivery of a deleted event is not sent again, by hand either.
    const retry = await call("POST", `/v1/deliveries/${pending}/retry`, { token: ADMIN, accountId: account.id });
    expect(retry.status).toBe(409);
    expect(retry.body.error.code).toBe("conflict");

    // Again: the same answer, nothing cancelled, no second audit entry.
    const again = await call("DELETE", `/v1/events/${eventId}/content`, { apiKey: key });
    expect(again.status).toBe(200);
    expect(again.body.cancelledDeliveries).toEqual([]);
    const audit = await call("GET", `/v1/audit-log?targetId=${eventId}`, { token: ADMIN, accountId: account.id });
    expect(audit.body.entries.map((e: any) => e.action)).toEqual(["event.content_deleted"]);
    expect(JSON.stringify(audit.body)).not.toContain(secret);
  });

  it("needs events:write, answers 404 for an unknown event", async () => {
    const account = await createAccount();
    const event = (await publish(account.id, { type: "a.b", entity: { x: 1 } })).body.event;
    const { key: reader } = await createKey(account.id, { scopes: ["webhooks:read"] });
    const refused = await call("DELETE", `/v1/events/${event.id}/content`, { apiKey: reader });
    expect(refused.status).toBe(403);
    const row = await env.DB.prepare("SELECT entity FROM events WHERE id = ?").bind(event.id).first<any>();
    expect(row.entity).toBe('{"x":1}');
    const missing = await call("DELETE", "/v1/events/evt_nope/content", { token: ADMIN, accountId: account.id });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("not_found");
  });

  it("an attempt in flight when the content is deleted is recorded without its response body", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/hang/700/${name}` });
    const eventId = (await publish(account.id, { type: "a.b", entity: { secret: "s3cr3t" } })).body.event.id;
    await waitForReceived(name, 1); // the first attempt is waiting for its answer
    const res = await call("DELETE", `/v1/events/${eventId}/content`, { token: ADMIN, accountId: account.id });
    expect(res.status).toBe(200);
    await expect.poll(async () => (await attemptsOf(account.id, webhook.id)).length).toBe(1);
    const [attempt] = await attemptsOf(account.id, webhook.id);
    expect(attempt).toMatchObject({ responseStatus: 200, requestBody: null, responseBody: null });
  });
});

describe("WEBHOOK_RETENTION_DAYS", () => {
  /** An event made `daysAgo` (its id from that time, as a real one would be) with a delivery and an attempt. */
  async function oldEvent(accountId: string, webhookId: string, daysAgo: number) {
    const at = Date.now() - daysAgo * DAY;
    const eventId = newId("evt", at);
    const [deliveryId] = await insertEvent({
      id: eventId,
      accountId,
      type: "order.paid",
      entity: { card: "4242" },
      createdAt: at,
      deliveries: [
        {
          webhookId,
          status: "succeeded",
          attempts: 1,
          tries: [
            {
              id: newId("att", at),
              attempt: 1,
              succeeded: true,
              createdAt: at,
              responseStatus: 200,
              responseBody: "thanks 4242",
              requestBody: '{"card":"4242"}',
            },
          ],
        },
      ],
    });
    return { eventId, deliveryId: deliveryId as string };
  }

  const eventRow = (id: string) => storedEvent(id);
  const attemptRow = async (eventId: string) => (await attemptsOfEvent(eventId))[0] ?? null;

  /** Every archived event of the account (every object under its prefix, indexed or not). */
  async function archived(accountId: string) {
    const events: { id: string; entity: unknown }[] = [];
    for (const o of (await env.HISTORY.list({ prefix: `history/${accountId}/` })).objects) {
      const body = await env.HISTORY.get(o.key);
      if (body) events.push(...(await decodeArchive(body.body)));
    }
    return events;
  }

  it("the cron moves final history to R2 and deletes what is past the retention (default 30 days) from it", async () => {
    const account = await createAccount();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${uniqueName()}` });
    const old = await oldEvent(account.id, webhook.id, 31);
    const recent = await oldEvent(account.id, webhook.id, 29);
    await cron();
    // Both left D1 (final, past the 72-hour window); the one past the retention is gone altogether.
    expect(await eventRow(old.eventId)).toBeNull();
    expect(await eventRow(recent.eventId)).toBeNull();
    expect(await attemptRow(old.eventId)).toBeNull();
    expect((await archived(account.id)).map((e) => e.id)).toEqual([recent.eventId]);
    expect((await call("GET", `/v1/events/${old.eventId}`, { token: ADMIN, accountId: account.id })).status).toBe(404);
    // The kept one reads as it did, from the archive.
    const kept = await call("GET", `/v1/events/${recent.eventId}`, { token: ADMIN, accountId: account.id });
    expect(kept.body.event).toMatchObject({ entity: { card: "4242" }, contentDeletedAt: null });
    expect(kept.body.event.deliveries[0].attempts[0]).toMatchObject({
      responseBody: "thanks 4242",
      responseStatus: 200,
    });
    const shown = await attemptsOf(account.id, webhook.id);
    expect(shown.map((a) => a.eventId)).toEqual([recent.eventId]);
  });

  it("a shorter retention deletes newer history", async () => {
    const account = await createAccount();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${uniqueName()}` });
    const fourDays = await oldEvent(account.id, webhook.id, 4);
    await cron();
    expect((await archived(account.id)).map((e) => e.id)).toEqual([fourDays.eventId]);
    await cron({ ...env, WEBHOOK_RETENTION_DAYS: "3" });
    expect(await archived(account.id)).toEqual([]);
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM history_objects WHERE account_id = ?")
      .bind(account.id)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });

  it("content still in D1 past the retention (an event whose delivery is still pending) is deleted there", async () => {
    await env.DB.prepare("DELETE FROM cron_state").run();
    const account = await createAccount();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${uniqueName()}` });
    const other = (await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${uniqueName()}` })).webhook;
    const old = await oldEvent(account.id, webhook.id, 31);
    const waiting = await pendingDelivery(account.id, old.eventId, other.id);
    await cron();
    const expired = await eventRow(old.eventId);
    expect(expired).toMatchObject({ entity: "{}", type: "order.paid" });
    expect(expired?.contentDeletedAt).toBeGreaterThan(Date.now() - 60_000);
    expect(await attemptRow(old.eventId)).toMatchObject({ request_body: null, response_body: null, s: 200, k: 1 });
    expect(await deliveryRow(old.deliveryId)).toMatchObject({ status: "succeeded", attempts: 1 });
    // Its delivery still pending is cancelled with the content, as a deletion by hand does: there is
    // nothing left to send.
    expect(await deliveryRow(waiting)).toMatchObject({ status: "cancelled" });
    const shown = (await attemptsOf(account.id, webhook.id)).find((a) => a.eventId === old.eventId);
    expect(shown).toMatchObject({ requestBody: null, responseBody: null, responseStatus: 200 });
    const cursor = await env.DB.prepare("SELECT value FROM cron_state WHERE name = 'retention.events'").first<any>();
    expect(cursor.value > old.eventId).toBe(true);
  });
});

/** Every row of every table of the database, as JSON text, with its table. */
async function everyRow() {
  const tables = (
    await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name != 'd1_migrations'",
    ).all<{ name: string }>()
  ).results.map((t) => t.name);
  const rows: { table: string; row: Record<string, unknown>; text: string }[] = [];
  for (const table of tables) {
    for (const row of (await env.DB.prepare(`SELECT * FROM "${table}"`).all<Record<string, unknown>>()).results) {
      rows.push({ table, row, text: JSON.stringify(row) });
    }
  }
  return { tables, rows };
}

/** An account with one of everything: keys (used, so they have rate counters), a profile, webhooks, events, deliveries, attempts, event types, audit entries. */
async function populatedAccount() {
  const account = await createAccount("pro", "Doomed Inc");
  const profile = (
    await call("POST", "/v1/permission-profiles", {
      token: ADMIN,
      accountId: account.id,
      body: { name: "Readers", permissions: ["keys:read"] },
    })
  ).body.profile;
  const full = await createKey(account.id, { name: "full" });
  const reader = await createKey(account.id, { name: "reader", profileId: profile.id });
  for (const k of [full.key, reader.key]) expect((await call("GET", "/v1/whoami", { apiKey: k })).status).toBe(200);
  const name = uniqueName();
  const ok = (await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` })).webhook;
  const failing = (
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/status/500/${uniqueName()}`, events: ["order.paid"] })
  ).webhook;
  await call("POST", "/v1/event-types", {
    token: ADMIN,
    accountId: account.id,
    body: { name: "invoice.paid", description: "d" },
  });
  const events: string[] = [];
  for (let i = 0; i < 3; i++) {
    events.push((await publish(account.id, { type: "order.paid", entity: { n: i } })).body.event.id);
  }
  events.push((await publish(account.id, { type: "misc.happened", entity: {} })).body.event.id);
  await waitForReceived(name, 4);
  await expect.poll(async () => (await attemptsOf(account.id, ok.id)).length).toBe(4);
  await expect.poll(async () => (await attemptsOf(account.id, failing.id)).length).toBeGreaterThanOrEqual(3);
  const pending = await pendingDelivery(account.id, events[3]!, failing.id);
  // One event delivered and moved to the archive (R2, and its index row in D1).
  const archivedId = (await publish(account.id, { type: "note.added", entity: { text: "moved" } })).body.event.id;
  events.push(archivedId);
  await waitForReceived(name, 5);
  await expect
    .poll(
      async () =>
        (await call("GET", `/v1/events/${archivedId}`, { token: ADMIN, accountId: account.id })).body.event?.status,
    )
    .toBe("delivered");
  await compose({ ...env, HISTORY_HOT_HOURS: "0" } as Env, { waitUntil: () => {} }).history.archive();
  expect((await env.HISTORY.list({ prefix: `history/${account.id}/` })).objects.length).toBeGreaterThan(0);
  // An OAuth app, a user's grant to it and its tokens.
  const app = await createClient(account.id, { scopes: ["keys:read"] });
  const client = { client_id: app.client.id };
  const tokens = await tokensFor(await discover(), client, oauth.ClientSecretBasic(app.clientSecret!), {
    clientId: app.client.id,
    user: { accountId: account.id, sub: `user_${uniqueName()}`, permissions: ["keys:read"] },
  });
  expect((await call("GET", "/v1/whoami", { token: tokens.access_token })).status).toBe(200);
  const grant = (await call("GET", "/v1/oauth-grants", { token: ADMIN, accountId: account.id })).body.grants[0].id;
  // A customer portal session.
  const portal = (await call("POST", "/v1/portal-sessions", { token: ADMIN, body: { accountId: account.id } })).body
    .portalSession.id as string;
  // Its Unkey records (`/v2`, the full-access key as root key): an API, a key, an identity, a role,
  // a permission, an override.
  const v2 = async (op: string, body: unknown) =>
    (await call("POST", `/v2/${op}`, { apiKey: full.key, body })).body.data;
  const unkeyApi = (await v2("apis.createApi", { name: "doomed api" })).apiId;
  const identity = (await v2("identities.createIdentity", { externalId: `doomed-${account.id}` })).identityId;
  const role = (await v2("permissions.createRole", { name: "doomed-role", permissions: ["doomed.read"] })).roleId;
  const unkeyKey = (
    await v2("keys.createKey", { apiId: unkeyApi, externalId: `doomed-${account.id}`, roles: ["doomed-role"] })
  ).keyId;
  const override = (
    await v2("ratelimit.setOverride", { namespace: "doomed", identifier: "x", limit: 1, duration: 60_000 })
  ).overrideId;
  const permission = (await v2("permissions.getPermission", { permission: "doomed.read" })).id;
  for (const id of [unkeyApi, identity, role, unkeyKey, override, permission]) expect(id).toEqual(expect.any(String));
  const ids = [
    unkeyApi,
    identity,
    role,
    unkeyKey,
    override,
    permission,
    portal,
    account.id,
    profile.id,
    full.apiKey.id,
    reader.apiKey.id,
    ok.id,
    failing.id,
    pending,
    app.client.id,
    grant,
    ...events,
  ];
  return { account, keys: [full, reader], webhooks: [ok, failing], ids, name, accessToken: tokens.access_token };
}

describe("DELETE /v1/accounts/:id", () => {
  // The keys' counts must reach KV to show their deletion: the isolate's KV credit is banked.
  beforeEach(() => tracking.fund());

  it("ends the account at once and leaves no row of it but the deletion's audit entry", async () => {
    const bystander = await populatedAccount();
    const doomed = await populatedAccount();
    const token = await userToken({ accountId: doomed.account.id, role: "admin" });
    expect((await call("GET", "/v1/api-keys", { token })).status).toBe(200);
    const counters = async (keyId: string) => (await env.RATE_LIMITS.list({ prefix: `rl:${keyId}:` })).keys.length;
    await expect.poll(() => counters(doomed.keys[0]!.apiKey.id)).toBeGreaterThan(0);

    const res = await call("DELETE", `/v1/accounts/${doomed.account.id}`, { token: ADMIN });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: doomed.account.id, deleted: true, complete: true });

    // Its keys, its user tokens and the operator acting in it are refused.
    for (const { key } of doomed.keys) {
      const r = await call("GET", "/v1/whoami", { apiKey: key });
      expect(r.status).toBe(401);
      const v = await call("POST", "/v1/keys/verify", { token: ADMIN, body: { key } });
      expect(v.body.valid).toBe(false);
    }
    expect((await call("GET", "/v1/whoami", { token: doomed.accessToken })).status).toBe(401);
    expect((await call("GET", "/v1/api-keys", { token })).status).toBe(404);
    expect((await call("GET", "/v1/api-keys", { token: ADMIN, accountId: doomed.account.id })).status).toBe(404);
    expect((await call("GET", `/v1/accounts/${doomed.account.id}`, { token: ADMIN })).status).toBe(404);
    expect((await call("DELETE", `/v1/accounts/${doomed.account.id}`, { token: ADMIN })).status).toBe(404);
    const listed = await call("GET", "/v1/accounts?limit=100", { token: ADMIN });
    expect(listed.body.accounts.map((a: any) => a.id)).not.toContain(doomed.account.id);

    // Every table, every row: nothing mentions the account or anything of it, but the deletion's entry.
    const { tables, rows } = await everyRow();
    expect(tables.sort()).toEqual(
      [
        "accounts",
        "api_idempotency", // answers to Svix's API POSTs, kept 24 h for retries
        "api_keys",
        "audit_log",
        "cron_state",
        "delivery_aliases",
        "deployment_event_types", // the deployment's catalog (Svix's API): no account's data
        "event_types",
        "events",
        "history_objects",
        "keyspaces", // Unkey's APIs (features/unkey)
        "identities",
        "key_permissions",
        "key_roles",
        "ratelimit_overrides",
        "oauth_clients",
        "oauth_consents",
        "oauth_grants",
        "oauth_tokens",
        "operator_keys", // the deployment's credentials: no account's data
        "permission_profiles",
        "portal_sessions",
        "verification_counts",
        "webhooks",
      ].sort(),
    );
    const left = rows.filter((r) => doomed.ids.some((id) => r.text.includes(id)));
    expect(left.map((r) => `${r.table} ${r.row.action ?? r.row.id}`)).toEqual(["audit_log account.deleted"]);
    expect(left[0]!.row).toMatchObject({ account_id: doomed.account.id, actor_type: "operator" });
    // Its archive is gone from R2; the other account's is whole.
    expect((await env.HISTORY.list({ prefix: `history/${doomed.account.id}/` })).objects).toEqual([]);
    expect((await env.HISTORY.list({ prefix: `history/${bystander.account.id}/` })).objects.length).toBeGreaterThan(0);
    // Its rate counters are gone from KV.
    for (const { apiKey } of doomed.keys) expect(await counters(apiKey.id)).toBe(0);

    // The other account is whole and works (a delivery is in its event's row, which its id names).
    for (const id of bystander.ids) {
      const stored = parseDeliveryId(id)?.eventId ?? id;
      expect(
        rows.some((r) => r.text.includes(stored)),
        id,
      ).toBe(true);
    }
    expect((await call("GET", "/v1/whoami", { apiKey: bystander.keys[0]!.key })).status).toBe(200);
    expect(await counters(bystander.keys[0]!.apiKey.id)).toBeGreaterThan(0);

    // Nothing more is sent to its webhooks (the failing one had retries due).
    const seen = (await received(doomed.name)).length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(await received(doomed.name)).toHaveLength(seen);
  });

  it("a purge its request could not finish is finished by the cron", async () => {
    const doomed = await populatedAccount();
    const ctx = createExecutionContext();
    const services = compose(env, ctx);
    const first = await services.accounts.remove(SYSTEM_AUDIT, doomed.account.id, { d1: 3, kv: 2 });
    await waitOnExecutionContext(ctx);
    expect(first.complete).toBe(false);
    // Ended at once all the same: the keys are refused, the account is not found.
    expect((await call("GET", "/v1/whoami", { apiKey: doomed.keys[0]!.key })).status).toBe(401);
    const before = (await everyRow()).rows.filter((r) => doomed.ids.some((id) => r.text.includes(id)));
    expect(before.length).toBeGreaterThan(1);
    await cron();
    const after = (await everyRow()).rows.filter((r) => doomed.ids.some((id) => r.text.includes(id)));
    expect(after.map((r) => `${r.table} ${r.row.action}`)).toEqual(["audit_log account.deleted"]);
    expect((await env.HISTORY.list({ prefix: `history/${doomed.account.id}/` })).objects).toEqual([]);
  });

  it("only the operator may delete an account", async () => {
    const account = await createAccount("enterprise");
    const { key } = await createKey(account.id);
    const token = await userToken({ accountId: account.id, role: "admin" });
    for (const auth of [{ apiKey: key }, { token }]) {
      const res = await call("DELETE", `/v1/accounts/${account.id}`, auth);
      expect(res.status).toBe(403);
    }
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(200);
  });
});

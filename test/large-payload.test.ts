import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { Svix, Webhook } from "svix";
import { describe, expect, it } from "vitest";
import { compose } from "../src/compose";
import { decodeArchive } from "../src/features/history/archive-object";
import { ADMIN, BASE, call, createAccount } from "./helpers/api";
import { createWebhook, deliveryRow, publish, uniqueName, waitForReceived } from "./helpers/webhooks";

/** An entity of about `kib` KiB of JSON that does not compress away (random text). */
function entityOf(kib: number) {
  const chunk = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(750))));
  const parts: string[] = [];
  while (parts.length * 1000 < kib * 1024 - 200) parts.push(chunk());
  return { id: uniqueName(), lines: parts, note: "ünïcödé ✓" };
}

const entityObject = (accountId: string, eventId: string) =>
  env.HISTORY.get(`history/${accountId}/entities/${eventId}.json`);

async function eventRow(id: string) {
  return env.DB.prepare(
    "SELECT length(entity) AS entity_length, length(packed) AS packed_length, content_deleted_at FROM events WHERE id = ?",
  )
    .bind(id)
    .first<{ entity_length: number | null; packed_length: number | null; content_deleted_at: number | null }>();
}

async function archiveNow() {
  const ctx = createExecutionContext();
  const moved = await compose({ ...env, HISTORY_HOT_HOURS: "0" } as Env, ctx).history.archive();
  await waitOnExecutionContext(ctx);
  return moved;
}

describe("payloads up to 1 MiB: what is too large for a D1 row is kept in R2, never truncated", () => {
  it("a 1,000 KiB entity: D1 keeps a reference of a few bytes, R2 the entity; delivered whole, signed, shown whole", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook, secret } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    const entity = entityOf(1000);
    const text = JSON.stringify(entity);
    expect(text.length).toBeGreaterThan(1000 * 1024 - 1024);
    expect(text.length).toBeLessThanOrEqual(1024 * 1024);
    const res = await publish(account.id, { type: "doc.updated", entity });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(202);
    const eventId = res.body.event.id as string;

    const [got] = await waitForReceived(name, 1);
    expect(JSON.parse(got!.body).entity).toEqual(entity);
    expect(got!.body).toContain(text);
    const verified = new Webhook(secret).verify(got!.body, got!.headers) as { entity: unknown } | undefined;
    expect(verified ?? JSON.parse(got!.body)).toBeTruthy();
    expect(webhook.id).toBeTruthy();

    const object = await entityObject(account.id, eventId);
    expect(await object?.text()).toBe(text);
    await expect.poll(async () => (await deliveryRow(res.body.deliveries[0].id))?.status).toBe("succeeded");
    const row = await eventRow(eventId);
    // The row holds the reference (packed once final): never the megabyte.
    expect((row?.entity_length ?? 0) + (row?.packed_length ?? 0)).toBeLessThan(2000);

    const shown = await call("GET", `/v1/events/${eventId}`, { token: ADMIN, accountId: account.id });
    expect(shown.status).toBe(200);
    expect(shown.body.event.entity).toEqual(entity);
    const attempts = await call("GET", `/v1/webhooks/${webhook.id}/attempts`, { token: ADMIN, accountId: account.id });
    expect(attempts.body.attempts[0].requestBody).toBe(got!.body);
  }, 30_000);

  it("a retry through the queue sends the same bytes; an idempotent repeat answers the first event and stores nothing twice", async () => {
    const account = await createAccount();
    const name = uniqueName();
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/fail/1/${name}` });
    const entity = entityOf(300);
    const first = await publish(account.id, { type: "doc.updated", entity, idempotencyKey: "big-1" });
    expect(first.status).toBe(202);
    const again = await publish(account.id, { type: "doc.updated", entity, idempotencyKey: "big-1" });
    expect(again.body.event.id).toBe(first.body.event.id);
    expect(again.body.event.entity).toEqual(entity);
    const [failed, retried] = await waitForReceived(name, 2, 15_000);
    expect(retried!.body).toBe(failed!.body);
    expect(retried!.headers["webhook-signature"]).toBeTruthy();
    expect(JSON.parse(retried!.body).entity).toEqual(entity);
    const listed = await env.HISTORY.list({ prefix: `history/${account.id}/entities/` });
    expect(listed.objects.map((o) => o.key)).toEqual([`history/${account.id}/entities/${first.body.event.id}.json`]);
  }, 30_000);

  it("archived: the entity goes into the archive whole and its own object goes; a retry by hand recalls it to D1 and R2", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    const entity = entityOf(200);
    const res = await publish(account.id, { type: "doc.updated", entity });
    const eventId = res.body.event.id as string;
    const deliveryId = res.body.deliveries[0].id as string;
    await waitForReceived(name, 1);
    await expect.poll(async () => (await deliveryRow(deliveryId))?.status).toBe("succeeded");
    await archiveNow();
    expect(await eventRow(eventId)).toBeNull();
    expect(await entityObject(account.id, eventId)).toBeNull();
    const listed = await env.HISTORY.list({ prefix: `history/${account.id}/` });
    const archive = await env.HISTORY.get(listed.objects[0]!.key);
    const [archived] = await decodeArchive(archive!.body);
    expect(archived!.entity).toEqual(entity);
    expect(
      (await call("GET", `/v1/events/${eventId}`, { token: ADMIN, accountId: account.id })).body.event.entity,
    ).toEqual(entity);

    const retry = await call("POST", `/v1/deliveries/${deliveryId}/retry`, { token: ADMIN, accountId: account.id });
    expect(retry.status).toBe(202);
    const [, again] = await waitForReceived(name, 2);
    expect(JSON.parse(again!.body).entity).toEqual(entity);
    expect(await (await entityObject(account.id, eventId))?.text()).toBe(JSON.stringify(entity));
    expect((await eventRow(eventId))?.entity_length ?? 0).toBeLessThan(100);
    expect(webhook.id).toBeTruthy();
  }, 30_000);

  it("content deleted: the entity's object is deleted with it", async () => {
    const account = await createAccount();
    const entity = entityOf(100);
    const res = await publish(account.id, { type: "doc.updated", entity });
    const eventId = res.body.event.id as string;
    expect(await entityObject(account.id, eventId)).not.toBeNull();
    const deleted = await call("DELETE", `/v1/events/${eventId}/content`, { token: ADMIN, accountId: account.id });
    expect(deleted.status).toBe(200);
    expect(deleted.body.event.entity).toEqual({});
    expect(await entityObject(account.id, eventId)).toBeNull();
  });

  it("an account deleted: its entities' objects go with its archive", async () => {
    const account = await createAccount();
    const res = await publish(account.id, { type: "doc.updated", entity: entityOf(100) });
    expect(await entityObject(account.id, res.body.event.id)).not.toBeNull();
    expect((await call("DELETE", `/v1/accounts/${account.id}`, { token: ADMIN })).status).toBe(200);
    expect((await env.HISTORY.list({ prefix: `history/${account.id}/` })).objects).toEqual([]);
  });

  it("over 1 MiB: 413, nothing stored; the reserved top-level key: 400", async () => {
    const account = await createAccount();
    const tooBig = await publish(account.id, { type: "doc.updated", entity: entityOf(1030) });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe("payload_too_large");
    const reserved = await publish(account.id, { type: "doc.updated", entity: { $keyhook: { r2: 5 } } });
    expect(reserved.status).toBe(400);
    expect(reserved.body.error.code).toBe("validation_failed");
    // Other routes keep their 64 KiB limit.
    const big = await call("POST", "/v1/webhooks", {
      token: ADMIN,
      accountId: account.id,
      body: { url: "https://example.com/h", events: ["*"], description: "x".repeat(70 * 1024) },
    });
    expect(big.status).toBe(413);
    expect((await env.HISTORY.list({ prefix: `history/${account.id}/entities/` })).objects).toHaveLength(0);
  });

  it("the official svix client sends a 1,000 KiB payload; the receiver gets it byte for byte and verifies it", async () => {
    const svix = new Svix(ADMIN, {
      serverUrl: BASE,
      fetch: ((input: RequestInfo | URL, init?: RequestInit) =>
        exports.default.fetch(new Request(input, init))) as typeof fetch,
    });
    const app = await svix.application.create({ name: "Big", uid: uniqueName() });
    const name = uniqueName();
    const secret = `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))))}`;
    await svix.endpoint.create(app.id, { url: `${env.RECEIVER_URL}/ok/${name}`, secret });
    const payload = entityOf(1000);
    const message = await svix.message.create(app.id, { eventType: "doc.updated", payload });
    const [got] = await waitForReceived(name, 1);
    expect(got!.body).toBe(JSON.stringify(payload));
    const svixHeaders = Object.fromEntries(Object.entries(got!.headers).filter(([k]) => k.startsWith("svix-")));
    expect(() => new Webhook(secret).verify(got!.body, svixHeaders)).not.toThrow();
    const read = await svix.message.get(app.id, message.id, { withContent: true });
    expect(read.payload).toEqual(payload);
  }, 30_000);
});

describe("R2 failing under a large publish", () => {
  it("the publish is 503 and writes nothing: no row names an entity that is not there", async () => {
    const account = await createAccount();
    const failing = {
      ...env.HISTORY,
      put: async () => {
        throw new Error("R2 is down");
      },
    } as unknown as R2Bucket;
    const ctx = createExecutionContext();
    const services = compose({ ...env, HISTORY: failing } as Env, ctx);
    const publishing = services.events.publish(
      { accountId: account.id, webhooksVersion: null },
      { type: "doc.updated", entity: entityOf(40) },
    );
    await expect(publishing).rejects.toMatchObject({ name: "DependencyUnavailable", dependency: "R2" });
    await waitOnExecutionContext(ctx);
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE account_id = ?")
      .bind(account.id)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
    // Small entities never touch R2: they go on.
    const small = await compose({ ...env, HISTORY: failing } as Env, createExecutionContext()).events.publish(
      { accountId: account.id, webhooksVersion: null },
      { type: "doc.updated", entity: { id: 1 } },
    );
    expect(small.event.id).toMatch(/^evt_/);
  });
});

import { env } from "cloudflare:workers";
import { Webhook } from "svix";
import { describe, expect, it } from "vitest";
import { readStoredEvent } from "../src/features/history/stored-event";
import { ADMIN, call, createAccount } from "./helpers/api";
import { createWebhook, publish, uniqueName, waitForReceived } from "./helpers/webhooks";

/** A Svix secret as a Svix user has it: `whsec_` and base64 of 24 random bytes. */
const svixSecret = () => `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))))}`;

/** Only the `svix-*` headers, picked by name as a Svix receiver's code does. */
const svixHeaders = (h: Record<string, string>) => ({
  "svix-id": h["svix-id"] ?? "",
  "svix-timestamp": h["svix-timestamp"] ?? "",
  "svix-signature": h["svix-signature"] ?? "",
});

describe("delivery formats: a Svix receiver verifies Keyhook's deliveries unchanged", () => {
  it("raw: the entity byte for byte, verified by svix's own Webhook class from the svix-* headers alone", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const secret = svixSecret();
    const { webhook } = await createWebhook(account.id, {
      url: `${env.RECEIVER_URL}/ok/${name}`,
      secret,
      deliveryFormat: "raw",
    });
    expect(webhook.deliveryFormat).toBe("raw");
    const entity = { id: "ord_1", amount: 1250, customer: { email: "a@example.com" }, lines: [1, 2, 3] };
    const published = await publish(account.id, { type: "order.paid", entity });
    expect(published.status).toBe(202);
    const [got] = await waitForReceived(name, 1);
    if (!got) throw new Error("nothing received");
    expect(got.body).toBe(JSON.stringify(entity));
    expect(got.headers["svix-id"]).toBe(published.body.event.id);
    expect(got.headers["svix-id"]).toBe(got.headers["webhook-id"]);
    expect(got.headers["svix-timestamp"]).toBe(got.headers["webhook-timestamp"]);
    expect(got.headers["svix-signature"]).toBe(got.headers["webhook-signature"]);
    // svix 2.5.0's verify returns nothing and throws on a bad signature.
    expect(() => new Webhook(secret).verify(got.body, svixHeaders(got.headers))).not.toThrow();
    expect(() => new Webhook(svixSecret()).verify(got.body, svixHeaders(got.headers))).toThrow();
    expect(() => new Webhook(secret).verify(`${got.body} `, svixHeaders(got.headers))).toThrow();

    // The event log shows what was sent: the raw body and every header, svix-* included.
    const detailOf = () =>
      call("GET", `/v1/events/${published.body.event.id}`, { token: ADMIN, accountId: account.id });
    await expect.poll(async () => (await detailOf()).body.event.status, { timeout: 5000 }).toBe("delivered");
    const attempt = (await detailOf()).body.event.deliveries[0].attempts[0];
    expect(attempt.requestBody).toBe(got.body);
    for (const h of ["svix-id", "svix-timestamp", "svix-signature", "webhook-signature"]) {
      expect(attempt.requestHeaders[h], h).toBe(got.headers[h]);
    }
    // …without storing the mirrored headers twice.
    const row = await env.DB.prepare("SELECT * FROM events WHERE id = ?")
      .bind(published.body.event.id)
      .first<Record<string, unknown>>();
    const stored = await readStoredEvent(row ?? {});
    expect(stored.attempts).toHaveLength(1);
    expect(stored.attempts[0]?.z).toBe(2);
    expect(stored.attempts[0]?.y).toBe(1);
    expect(Object.keys(stored.attempts[0]?.h ?? {})).not.toContain("svix-signature");
    expect(Object.keys(stored.attempts[0]?.h ?? {})).toContain("webhook-signature");
  });

  it("envelope (the default): Keyhook's envelope, and svix-* headers beside webhook-* all the same", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook, secret } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    expect(webhook.deliveryFormat).toBe("envelope");
    const published = await publish(account.id, { type: "order.paid", entity: { id: "ord_2" } });
    const [got] = await waitForReceived(name, 1);
    if (!got) throw new Error("nothing received");
    expect(JSON.parse(got.body)).toMatchObject({
      id: published.body.event.id,
      event: "order.paid",
      entity: { id: "ord_2" },
    });
    expect(() => new Webhook(secret).verify(got.body, svixHeaders(got.headers))).not.toThrow();
  });

  it("switching a webhook to raw: the next delivery is raw, and each attempt's body in the log is what it sent", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook, secret } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${name}` });
    const first = await publish(account.id, { type: "order.paid", entity: { n: 1 } });
    await waitForReceived(name, 1);
    const patched = await call("PATCH", `/v1/webhooks/${webhook.id}`, {
      token: ADMIN,
      accountId: account.id,
      body: { deliveryFormat: "raw" },
    });
    expect(patched.body.webhook.deliveryFormat).toBe("raw");
    const second = await publish(account.id, { type: "order.paid", entity: { n: 2 } });
    const all = await waitForReceived(name, 2);
    expect(all[1]?.body).toBe('{"n":2}');
    expect(() => new Webhook(secret).verify(all[1]?.body ?? "", svixHeaders(all[1]?.headers ?? {}))).not.toThrow();
    // (The outcome is recorded just after the receiver answers: read the log once it is there.)
    const log = async (id: string) => {
      const read = async () =>
        (await call("GET", `/v1/events/${id}`, { token: ADMIN, accountId: account.id })).body.event.deliveries[0]
          .attempts[0]?.requestBody as string | undefined;
      await expect.poll(read, { timeout: 5000 }).toBeDefined();
      return (await read()) ?? "";
    };
    expect(JSON.parse(await log(first.body.event.id))).toMatchObject({ entity: { n: 1 } });
    expect(await log(second.body.event.id)).toBe('{"n":2}');
  });

  it("a bad format is a 400 naming the field", async () => {
    const account = await createAccount();
    const res = await call("POST", "/v1/webhooks", {
      token: ADMIN,
      accountId: account.id,
      body: { url: "https://example.com/h", events: ["*"], deliveryFormat: "xml" },
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain("deliveryFormat");
  });
});

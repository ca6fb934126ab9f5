import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, call, createAccount } from "./helpers/api";
import { createWebhook, publish, received, uniqueName, waitForReceived } from "./helpers/webhooks";

const as = (accountId: string) => ({ token: ADMIN, accountId });

async function attemptsOf(accountId: string, webhookId: string, count: number) {
  await expect
    .poll(async () => (await call("GET", `/v1/webhooks/${webhookId}/attempts`, as(accountId))).body.attempts.length)
    .toBeGreaterThanOrEqual(count);
  return (await call("GET", `/v1/webhooks/${webhookId}/attempts`, as(accountId))).body.attempts;
}

describe("custom headers per endpoint", () => {
  it("are sent with every delivery, stored sealed, shown by name; values only from …/headers", async () => {
    const account = await createAccount();
    const name = uniqueName();
    const { webhook } = await createWebhook(account.id, {
      url: `${env.RECEIVER_URL}/ok/${name}`,
      headers: { Authorization: "Bearer rcv_secret_value_123", "X-Tenant": "acme" },
    });
    expect(webhook.headerNames).toEqual(["Authorization", "X-Tenant"]);
    expect(JSON.stringify(webhook)).not.toContain("rcv_secret_value_123");
    const row = await env.DB.prepare("SELECT headers FROM webhooks WHERE id = ?").bind(webhook.id).first<any>();
    expect(row.headers).toBeTruthy();
    expect(row.headers).not.toContain("rcv_secret_value_123");
    const shown = await call("GET", `/v1/webhooks/${webhook.id}/headers`, as(account.id));
    expect(shown.body).toEqual({ headers: { Authorization: "Bearer rcv_secret_value_123", "X-Tenant": "acme" } });

    await publish(account.id, { type: "order.paid", entity: { n: 1 } });
    const [req] = await waitForReceived(name, 1);
    expect(req!.headers.authorization).toBe("Bearer rcv_secret_value_123");
    expect(req!.headers["x-tenant"]).toBe("acme");
    expect(req!.headers["webhook-signature"]).toMatch(/^v1,/);
    // The history keeps the names, never the values.
    const [attempt] = await attemptsOf(account.id, webhook.id, 1);
    expect(attempt.requestHeaders.Authorization).toBe("[redacted]");
    expect(attempt.requestHeaders["webhook-id"]).toBeTruthy();
    expect(JSON.stringify(attempt)).not.toContain("rcv_secret_value_123");

    // Replaced whole, then removed.
    const patched = await call("PATCH", `/v1/webhooks/${webhook.id}`, {
      ...as(account.id),
      body: { headers: { "X-Other": "1" } },
    });
    expect(patched.body.webhook.headerNames).toEqual(["X-Other"]);
    const cleared = await call("PATCH", `/v1/webhooks/${webhook.id}`, { ...as(account.id), body: { headers: null } });
    expect(cleared.body.webhook.headerNames).toEqual([]);
    await publish(account.id, { type: "order.paid", entity: { n: 2 } });
    const reqs = await waitForReceived(name, 2);
    expect(reqs[1]!.headers.authorization).toBeUndefined();
    expect(reqs[1]!.headers["x-other"]).toBeUndefined();
    // The audit log names what changed, never a value.
    const audit = await call("GET", "/v1/audit-logs?limit=50", as(account.id));
    expect(JSON.stringify(audit.body)).not.toContain("rcv_secret_value_123");
  });

  it.each([
    [{ "webhook-signature": "v1,forged" }, "webhook-signature"],
    [{ "Webhook-Id": "evt_x" }, "Webhook-Id"],
    [{ "X-Keyhook-Event": "order.paid" }, "X-Keyhook-Event"],
    [{ "Content-Type": "text/plain" }, "Content-Type"],
    [{ "User-Agent": "me" }, "User-Agent"],
    [{ Host: "evil.example" }, "Host"],
  ])("refuses a header that would replace Keyhook's own: %j", async (headers, path) => {
    const account = await createAccount();
    const res = await call("POST", "/v1/webhooks", {
      ...as(account.id),
      body: { url: `${env.RECEIVER_URL}/ok/x`, events: ["*"], headers },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    expect(JSON.stringify(res.body.error)).toContain(path);
  });

  it.each([
    [{ "Bad Header": "x" }, "header name"],
    [{ "X-Split": "a\r\nInjected: yes" }, "line breaks"],
    [Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, "v"])), "at most 20"],
  ])("refuses malformed headers: %j", async (headers, message) => {
    const account = await createAccount();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/x` });
    const res = await call("PATCH", `/v1/webhooks/${webhook.id}`, { ...as(account.id), body: { headers } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain(message);
  });
});

describe("timeout per endpoint", () => {
  it("an endpoint's own timeout ends an attempt sooner than the deployment's; above it is refused", async () => {
    const account = await createAccount();
    const slow = uniqueName();
    const patient = uniqueName();
    // The deployment's timeout in the tests is 1,500 ms; the receiver answers after 1,250.
    const short = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/hang/1250/${slow}`, timeoutMs: 1000 });
    const long = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/hang/1250/${patient}` });
    expect(short.webhook.timeoutMs).toBe(1000);
    expect(long.webhook.timeoutMs).toBeNull();
    await publish(account.id, { type: "order.paid", entity: {} });
    const [cut] = await attemptsOf(account.id, short.webhook.id, 1);
    expect(cut.succeeded).toBe(false);
    expect(cut.failureReason).toBe("timeout after 1000 ms");
    const [waited] = await attemptsOf(account.id, long.webhook.id, 1);
    expect(waited.succeeded).toBe(true);

    const over = await call("PATCH", `/v1/webhooks/${long.webhook.id}`, {
      ...as(account.id),
      body: { timeoutMs: 2000 },
    });
    expect(over.status).toBe(400);
    expect(JSON.stringify(over.body)).toContain("1500 ms");
    const cleared = await call("PATCH", `/v1/webhooks/${short.webhook.id}`, {
      ...as(account.id),
      body: { timeoutMs: null },
    });
    expect(cleared.body.webhook.timeoutMs).toBeNull();
  });
});

describe("throttle per endpoint", () => {
  it("a throttled endpoint gets at most its rate, every event once; another endpoint is not held back", async () => {
    const account = await createAccount();
    const paced = uniqueName();
    const free = uniqueName();
    const throttled = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${paced}`, throttle: 5 });
    await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/${free}` });
    expect(throttled.webhook.throttle).toBe(5);
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const res = await publish(account.id, { type: "order.paid", entity: { i } });
        expect(res.status).toBe(202);
        ids.push(res.body.event.id);
      }),
    );
    const others = await waitForReceived(free, 12);
    const got = await waitForReceived(paced, 12, 20_000);
    // Every event once.
    expect(got.map((r) => r.headers["webhook-id"]).sort()).toEqual([...ids].sort());
    // Never faster than 5 a second: each send is at its slot (200 ms apart) or a little after, so
    // twelve span at least eleven slots less the first's lateness, and no two come close together.
    const times = got.map((r) => r.at).sort((a, b) => a - b);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    expect((times.at(-1) ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(2000);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(100);
    // The unthrottled endpoint had all of them before the throttled one was half way.
    const lastFree = Math.max(...others.map((r) => r.at));
    expect(lastFree).toBeLessThan(times[6] ?? 0);
    // Nothing more arrives later (no duplicate from a deferral).
    await new Promise((r) => setTimeout(r, 1500));
    expect((await received(paced)).length).toBe(12);
    // Deferrals are not attempts: one attempt per delivery.
    const attempts = await attemptsOf(account.id, throttled.webhook.id, 12);
    expect(attempts).toHaveLength(12);
    expect(attempts.every((a: any) => a.attempt === 1 && a.succeeded)).toBe(true);
  });

  it("throttle is validated and can be removed", async () => {
    const account = await createAccount();
    const { webhook } = await createWebhook(account.id, { url: `${env.RECEIVER_URL}/ok/x`, throttle: 3 });
    for (const bad of [0, 1001, 2.5, "5"]) {
      const res = await call("PATCH", `/v1/webhooks/${webhook.id}`, { ...as(account.id), body: { throttle: bad } });
      expect(res.status, String(bad)).toBe(400);
    }
    const res = await call("PATCH", `/v1/webhooks/${webhook.id}`, { ...as(account.id), body: { throttle: null } });
    expect(res.body.webhook.throttle).toBeNull();
  });
});

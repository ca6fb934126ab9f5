import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { checkWebhookUrl } from "../src/features/webhooks/url-safety";
import { decryptSecret } from "../src/lib/secret-box";
import { ADMIN, call, createAccount, createKey } from "./helpers/api";
import { createWebhook } from "./helpers/webhooks";

const prod = { allowPrivate: false, denyHosts: ["*.workers.dev", "keyhook.example.com"] };
const dev = { allowPrivate: true, denyHosts: ["*.workers.dev"] };

describe("SSRF: webhook URLs", () => {
  it.each([
    ["http://example.com/hook", "https"],
    ["https://user:pass@example.com/hook", "userinfo"],
    ["https://example.com:8443/hook", "port 443"],
    ["https://127.0.0.1/hook", "IP addresses"],
    ["https://2130706433/hook", "IP addresses"],
    ["https://0x7f000001/hook", "IP addresses"],
    ["https://0177.0.0.1/hook", "IP addresses"],
    ["https://10.0.0.1/hook", "IP addresses"],
    ["https://[::1]/hook", "IP addresses"],
    ["https://[::ffff:127.0.0.1]/hook", "IP addresses"],
    ["https://[fe80::1]/hook", "link-local"],
    ["https://169.254.169.254/latest/meta-data", "metadata"],
    ["https://metadata.google.internal/", "metadata"],
    ["https://localhost/hook", "localhost"],
    ["https://api.localhost/hook", "localhost"],
    ["https://printer.local/hook", "private network"],
    ["https://db.internal/hook", "private network"],
    ["https://intranet/hook", "public domain"],
    ["https://my-worker.acme.workers.dev/hook", "deny list"],
    ["https://keyhook.example.com/hook", "deny list"],
    ["not a url", "valid absolute URL"],
    ["ftp://example.com/", "https"],
  ])("refuses %s (%s)", (url, reason) => {
    const verdict = checkWebhookUrl(url, prod);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) expect(verdict.reason).toContain(reason);
  });

  it.each(["https://example.com/hook", "https://hooks.example.co.uk:443/a?b=c", "https://EXAMPLE.com./x"])(
    "allows %s",
    (url) => {
      expect(checkWebhookUrl(url, prod).ok).toBe(true);
    },
  );

  it("development allows http, loopback and private addresses, but never link-local or metadata", () => {
    for (const url of [
      "http://127.0.0.1:9999/x",
      "http://localhost:3000/x",
      "http://10.1.2.3/x",
      "http://[::1]:8080/x",
    ]) {
      expect(checkWebhookUrl(url, dev).ok, url).toBe(true);
    }
    for (const url of [
      "http://169.254.169.254/",
      "http://169.254.1.1/",
      "http://[fe80::1]/",
      "http://[::ffff:169.254.169.254]/",
      "http://[::ffff:a9fe:a9fe]/",
      "http://metadata.google.internal/",
    ]) {
      expect(checkWebhookUrl(url, dev).ok, url).toBe(false);
    }
  });

  it("the API answers 400 invalid_webhook_url with the reason", async () => {
    const account = await createAccount();
    const res = await call("POST", "/v1/webhooks", {
      token: ADMIN,
      accountId: account.id,
      body: { url: "http://169.254.169.254/latest", events: ["*"] },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: "invalid_webhook_url",
      details: { reason: expect.stringContaining("metadata") },
    });
    const { webhook } = await createWebhook(account.id, { url: "https://example.com/a" });
    const patch = await call("PATCH", `/v1/webhooks/${webhook.id}`, {
      token: ADMIN,
      accountId: account.id,
      body: { url: "https://[fe80::1]/" },
    });
    expect(patch.status).toBe(400);
    expect(patch.body.error.code).toBe("invalid_webhook_url");
  });
});

describe("webhook endpoints", () => {
  it("create → {webhook, secret}; list, get, patch, delete; the secret is never listed", async () => {
    const account = await createAccount();
    const op = { token: ADMIN, accountId: account.id };
    const filter = [{ field: "severity", op: "gte", value: "major", order: ["minor", "major", "critical"] }];
    const res = await call("POST", "/v1/webhooks", {
      ...op,
      body: { url: "https://example.com/hook", events: ["issue.resolved"], filter, description: "Ops" },
    });
    expect(res.status).toBe(201);
    const { webhook, secret } = res.body;
    expect(webhook).toMatchObject({
      url: "https://example.com/hook",
      events: ["issue.resolved"],
      filter,
      description: "Ops",
      status: "active",
    });
    const listed = await call("GET", "/v1/webhooks", op);
    expect(listed.body.webhooks.map((w: { id: string }) => w.id)).toEqual([webhook.id]);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    expect(JSON.stringify((await call("GET", `/v1/webhooks/${webhook.id}`, op)).body)).not.toContain(secret);
    const patched = await call("PATCH", `/v1/webhooks/${webhook.id}`, {
      ...op,
      body: { events: ["*"], filter: null, status: "disabled" },
    });
    expect(patched.body.webhook).toMatchObject({
      events: ["*"],
      filter: null,
      status: "disabled",
      disabledReason: "disabled by hand",
    });
    const enabled = await call("PATCH", `/v1/webhooks/${webhook.id}`, { ...op, body: { status: "active" } });
    expect(enabled.body.webhook).toMatchObject({ status: "active", disabledReason: null });
    expect((await call("GET", `/v1/webhooks/${webhook.id}/secret`, op)).body).toEqual({ secret });
    expect((await call("DELETE", `/v1/webhooks/${webhook.id}`, op)).body).toEqual({ success: true });
    expect((await call("GET", `/v1/webhooks/${webhook.id}`, op)).status).toBe(404);
  });

  it("the secret is stored AES-GCM encrypted, bound to the webhook id", async () => {
    const account = await createAccount();
    const { webhook, secret } = await createWebhook(account.id, { url: "https://example.com/hook" });
    const row = await env.DB.prepare("SELECT secret FROM webhooks WHERE id = ?")
      .bind(webhook.id)
      .first<{ secret: string }>();
    expect(row!.secret).not.toContain(secret.slice(6, 20));
    expect(await decryptSecret(row!.secret, env.WEBHOOK_SECRET_KEY, webhook.id)).toBe(secret);
    await expect(decryptSecret(row!.secret, env.WEBHOOK_SECRET_KEY, "wh_other")).rejects.toThrow();
  });

  it("validates: events, filters, short secrets", async () => {
    const account = await createAccount();
    const cases: [Record<string, unknown>, string][] = [
      [{ url: "https://e.com/x", events: [] }, "events"],
      [{ url: "https://e.com/x", events: ["*", "a.b"] }, "events"],
      [{ url: "https://e.com/x", events: ["Not A Type"] }, "events.0"],
      [{ url: "https://e.com/x", events: ["*"], secret: "too-short" }, "secret"],
      [{ url: "https://e.com/x", events: ["*"], filter: [{ field: "a", op: "in", value: 3 }] }, "filter.0.value"],
      [{ url: "https://e.com/x", events: ["*"], filter: [{ field: "a", op: "like", value: 3 }] }, "filter.0.op"],
      [
        { url: "https://e.com/x", events: ["*"], filter: [{ field: "s", op: "gte", value: "x", order: ["a"] }] },
        "filter.0.value",
      ],
    ];
    for (const [body, path] of cases) {
      const res = await call("POST", "/v1/webhooks", { token: ADMIN, accountId: account.id, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
    }
  });

  it("at most 20 webhooks per account", async () => {
    const account = await createAccount();
    await Promise.all(Array.from({ length: 20 }, (_, i) => createWebhook(account.id, { url: `https://e.com/${i}` })));
    const res = await call("POST", "/v1/webhooks", {
      token: ADMIN,
      accountId: account.id,
      body: { url: "https://e.com/21", events: ["*"] },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/delete one/);
  });

  it("scopes: webhooks:read reads, webhooks:write writes and reveals the secret", async () => {
    const account = await createAccount();
    const { webhook } = await createWebhook(account.id, { url: "https://e.com/x" });
    const reader = await createKey(account.id, { scopes: ["webhooks:read"] });
    expect((await call("GET", "/v1/webhooks", { apiKey: reader.key })).status).toBe(200);
    expect((await call("GET", `/v1/webhooks/${webhook.id}/secret`, { apiKey: reader.key })).status).toBe(403);
    expect((await call("DELETE", `/v1/webhooks/${webhook.id}`, { apiKey: reader.key })).status).toBe(403);
    const publisher = await createKey(account.id, { scopes: ["events:write"] });
    expect(
      (await call("POST", "/v1/events", { apiKey: publisher.key, body: { type: "a.b", entity: {} } })).status,
    ).toBe(202);
    expect((await call("POST", "/v1/events", { apiKey: reader.key, body: { type: "a.b", entity: {} } })).status).toBe(
      403,
    );
  });
});

describe("event catalog", () => {
  it("Keyhook's own types and every type the account registered or published", async () => {
    const account = await createAccount();
    const op = { token: ADMIN, accountId: account.id };
    const reg = await call("POST", "/v1/event-types", {
      ...op,
      body: { name: "lap.created", description: "A lap", example: { lap: 1 } },
    });
    expect(reg.status).toBe(201);
    await call("POST", "/v1/events", { ...op, body: { type: "issue.resolved", entity: { id: 1 } } });
    const { eventTypes } = (await call("GET", "/v1/event-types", op)).body;
    const names = eventTypes.map((t: { name: string }) => t.name);
    for (const own of ["api_key.created", "api_key.revoked", "api_key.expiring", "webhook.disabled"])
      expect(names).toContain(own);
    expect(eventTypes.find((t: { name: string }) => t.name === "lap.created")).toEqual({
      name: "lap.created",
      description: "A lap",
      group: null,
      schema: null,
      examples: [{ lap: 1 }],
      example: { lap: 1 },
      validate: false,
      deprecated: false,
      archived: false,
      builtIn: false,
    });
    expect(names).toContain("issue.resolved");
    const other = await createAccount();
    const otherNames = (
      await call("GET", "/v1/event-types", { token: ADMIN, accountId: other.id })
    ).body.eventTypes.map((t: { name: string }) => t.name);
    expect(otherNames).not.toContain("lap.created");
  });
});

// The customer portal in a real browser, embedded in a page of another origin: Debian's Chromium
// driven by playwright-core. The host page is on 127.0.0.1, Keyhook on localhost: another site, so
// the portal's cookie is a third-party, partitioned one.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, it } from "node:test";
import AxeBuilder from "@axe-core/playwright";
import { chromium } from "playwright-core";
import { apiCall, BASE, devVar, startKeyhook, startReceiver } from "./harness.mjs";

const SHOTS = "docs/screenshots";
let keyhook, receiver, host, browser, page, account, session;
const consoleErrors = [];

/** The SaaS's own page: its settings screen with the portal in an iframe. */
function startHost() {
  const server = createServer((req, res) => {
    const src = new URL(req.url, "http://127.0.0.1").searchParams.get("src") ?? "";
    res.setHeader("content-type", "text/html");
    res.end(`<!doctype html><html lang="en"><head><title>Acme settings</title></head><body>
<h1>Acme settings</h1><iframe title="Webhooks portal" src="${src.replace(/"/g, "&quot;")}" width="1240" height="760"></iframe></body></html>`);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ origin: `http://127.0.0.1:${server.address().port}`, close: () => server.close() }),
    ),
  );
}

const admin = () => ({ token: devVar("ADMIN_TOKEN"), accountId: account.id });

before(async () => {
  host = await startHost();
  keyhook = await startKeyhook(["--var", `PORTAL_FRAME_ANCESTORS:${host.origin}`]);
  receiver = await startReceiver();
  account = (
    await apiCall("POST", "/v1/accounts", { token: devVar("ADMIN_TOKEN"), body: { name: "Portal Co", plan: "pro" } })
  ).body.account;
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 1300, height: 860 } });
  page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));
});

after(async () => {
  await browser?.close();
  receiver?.close();
  host?.close();
  keyhook?.stop();
});

describe("the customer portal, framed by another origin", () => {
  it("the link opens inside the host's iframe: the account's webhooks, themed", async () => {
    const made = await apiCall("POST", "/v1/portal-sessions", {
      token: devVar("ADMIN_TOKEN"),
      body: {
        accountId: account.id,
        capabilities: ["webhooks:write", "events:replay"],
        returnUrl: `${host.origin}/settings`,
        theme: { name: "Acme", accent: "#6d28d9" },
      },
    });
    assert.equal(made.status, 201);
    session = made.body.portalSession;
    assert.ok(session.url.startsWith(`${BASE}/portal/open?token=`));
    await page.goto(`${host.origin}/settings?src=${encodeURIComponent(session.url)}`);
    const frame = page.frameLocator("iframe");
    await frame.getByRole("heading", { name: /Acme/ }).waitFor();
    await frame.getByText("No webhooks yet").waitFor();
    const accent = await page
      .frames()
      .find((f) => f.url().startsWith(`${BASE}/portal/`))
      .evaluate(() => getComputedStyle(document.documentElement).getPropertyValue("--accent").trim());
    assert.equal(accent, "#6d28d9");
    // No credential in the page's storage: the session is an HttpOnly cookie.
    const portalFrame = page.frames().find((f) => f.url().startsWith(`${BASE}/portal/`));
    assert.equal(await portalFrame.evaluate(() => document.cookie), "");
    const stored = await portalFrame.evaluate(() => {
      try {
        return sessionStorage.length + localStorage.length;
      } catch {
        return 0; // a third-party frame may not even read them
      }
    });
    assert.equal(stored, 0);
  });

  it("adds an endpoint, sends a test, sees it in the event log, and replays what was missed", async () => {
    const frame = page.frameLocator("iframe");
    await frame.getByRole("button", { name: "+ New webhook" }).click();
    await frame.getByLabel("URL").fill(receiver.url);
    await frame.getByLabel("All events").check();
    await frame.getByRole("button", { name: "Create", exact: true }).click();
    const row = frame.getByRole("row", { name: new RegExp(receiver.url.replace(/[.:/]/g, "\\$&")) });
    await row.waitFor();
    await row.getByRole("button", { name: "Send test event" }).click();
    const until = Date.now() + 10_000;
    while (receiver.received.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    assert.equal(JSON.parse(receiver.received[0].body).event, "webhook.test");
    const hook = (await apiCall("GET", "/v1/webhooks", admin())).body.webhooks[0];
    assert.equal(hook.url, receiver.url);

    // Two events published while it is disabled: Replay in the portal sends them.
    const patch = (status) => apiCall("PATCH", `/v1/webhooks/${hook.id}`, { ...admin(), body: { status } });
    assert.equal((await patch("disabled")).status, 200);
    const missed = [];
    for (let i = 0; i < 2; i++) {
      missed.push(
        (await apiCall("POST", "/v1/events", { ...admin(), body: { type: "invoice.overdue", entity: { i } } })).body
          .event.id,
      );
    }
    assert.equal((await patch("active")).status, 200);
    await frame.getByRole("tab", { name: "Event log" }).click();
    await frame.getByText("invoice.overdue").first().waitFor();
    await frame.getByRole("tab", { name: "Endpoints" }).click();
    await row.getByRole("button", { name: "Replay" }).click();
    const panel = frame.getByRole("form", { name: "Replay missed events" });
    await panel.getByRole("button", { name: "Replay", exact: true }).click();
    await panel.getByRole("status").filter({ hasText: "2 events on the way" }).waitFor();
    const replayed = () => receiver.received.filter((r) => missed.includes(r.headers["webhook-id"]));
    const by = Date.now() + 10_000;
    while (replayed().length < 2 && Date.now() < by) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      replayed().map((r) => r.headers["webhook-id"]),
      missed,
    );
    await panel.getByRole("button", { name: "Close" }).click();
    const { violations } = await new AxeBuilder({ page }).analyze();
    const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert.deepEqual(
      serious.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`),
      [],
    );
    await page.screenshot({ path: `${SHOTS}/portal.png` });
    await frame.getByRole("tab", { name: "Event log" }).click();
    await frame.getByText("invoice.overdue").first().waitFor();
    await page.screenshot({ path: `${SHOTS}/portal-events.png` });
  });

  it("usable framed 400, 800 and 1280 px wide: every endpoint's actions reachable, nothing cut off", async () => {
    for (const width of [400, 800, 1280]) {
      await page.setViewportSize({ width: width + 40, height: 860 });
      await page.evaluate((w) => {
        document.querySelector("iframe").width = String(w);
      }, width);
      const frame = page.frameLocator("iframe");
      await frame.getByRole("tab", { name: "Endpoints" }).click();
      const row = frame.locator("tr[data-webhook-id]").first();
      await row.waitFor();
      const portal = page.frames().find((f) => f.url().startsWith(`${BASE}/portal/`));
      // Nothing wider than the frame: no column cut off, no sideways scrolling.
      const overflow = await portal.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      assert.ok(overflow <= 1, `${width} px: the page is ${overflow} px wider than its frame`);
      const buttons = row.locator(".row-actions button");
      assert.equal(await buttons.count(), 6, `${width} px: six actions`);
      const frameBox = await page.locator("iframe").boundingBox();
      const boxes = [];
      for (let i = 0; i < 6; i++) {
        const button = buttons.nth(i);
        await button.scrollIntoViewIfNeeded();
        const box = await button.boundingBox();
        assert.ok(box && box.width > 0, `${width} px: action ${i} shown`);
        assert.ok(
          box.x >= frameBox.x - 1 && box.x + box.width <= frameBox.x + frameBox.width + 1,
          `${width} px: action ${i} inside the frame`,
        );
        if (!(await button.isDisabled())) await button.click({ trial: true });
        boxes.push(box);
      }
      // The six actions in at most three lines, never a tall column of one button each.
      const lines = new Set(boxes.map((b) => Math.round(b.y))).size;
      assert.ok(lines <= 3, `${width} px: the actions take ${lines} lines`);
      // The URL and its columns are all there (a card per endpoint when narrow).
      for (const text of [receiver.url, "Active"])
        assert.ok((await row.textContent()).includes(text), `${width} px: ${text}`);
      await page.screenshot({ path: `${SHOTS}/portal-${width}.png`, fullPage: true });
    }
    await page.setViewportSize({ width: 1300, height: 860 });
    await page.evaluate(() => {
      document.querySelector("iframe").width = "1240";
    });
  });

  it("the event catalog: a type's schema and example, and Send example reaches the endpoint", async () => {
    const type = {
      name: "invoice.paid",
      description: "An invoice was paid in full.",
      group: "Billing",
      schema: {
        type: "object",
        properties: { id: { type: "string" }, amount: { type: "integer" } },
        required: ["id", "amount"],
      },
      examples: [{ id: "in_1042", amount: 4200 }],
    };
    assert.equal((await apiCall("POST", "/v1/event-types", { ...admin(), body: type })).status, 201);
    const frame = page.frameLocator("iframe");
    await frame.getByRole("tab", { name: "Event catalog" }).click();
    const billing = frame.getByRole("region", { name: "Billing" });
    const card = billing.getByRole("article", { name: "invoice.paid" });
    await card.waitFor();
    assert.match(await card.textContent(), /An invoice was paid in full\..*"in_1042"/s);
    await card.getByText("Schema").click();
    assert.match(await card.locator("pre").first().textContent(), /"required": \[\s+"id",\s+"amount"/);
    // Keyhook's own types are listed last, in their own group.
    assert.equal(await frame.getByRole("region", { name: "Keyhook" }).count(), 1);
    const before = receiver.received.length;
    await card.getByRole("button", { name: "Send example" }).click();
    await frame.getByRole("status").filter({ hasText: "The invoice.paid example is on its way" }).waitFor();
    const by = Date.now() + 10_000;
    while (receiver.received.length === before && Date.now() < by) await new Promise((r) => setTimeout(r, 100));
    const body = JSON.parse(receiver.received.at(-1).body);
    assert.equal(body.event, "invoice.paid");
    assert.deepEqual(body.entity, { id: "in_1042", amount: 4200, test: true });
    const { violations } = await new AxeBuilder({ page }).analyze();
    const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert.deepEqual(
      serious.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`),
      [],
    );
    await page.screenshot({ path: `${SHOTS}/portal-catalog.png` });
  });

  it("the same link opened a second time is refused with a clear page", async () => {
    const again = await browser.newPage();
    const res = await again.goto(session.url);
    assert.equal(res.status(), 410);
    await again.getByRole("heading", { name: "This link can no longer be used" }).waitFor();
    await again.close();
  });

  it("a revoked session's portal stops working", async () => {
    assert.equal((await apiCall("DELETE", `/v1/portal-sessions/${session.id}`, admin())).status, 200);
    const frame = page.frameLocator("iframe");
    await frame.getByRole("tab", { name: "Endpoints" }).click();
    await frame
      .getByRole("alert")
      .getByText(/session has ended/)
      .waitFor();
  });

  it("no console errors but the revoked session's refusal", () => {
    assert.ok(
      consoleErrors.every((e) => /status of (401|410)/.test(e)),
      consoleErrors.join("\n"),
    );
  });
});

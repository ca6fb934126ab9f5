// The admin page in a real browser: Debian's Chromium driven by playwright-core, against `npm run dev`.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import AxeBuilder from "@axe-core/playwright";
import * as oauth from "oauth4webapi";
import { chromium } from "playwright-core";
import { apiCall, BASE, devVar, SCRIPT_BODY, startKeyhook, startLogin, startReceiver, userJwt } from "./harness.mjs";

const SHOTS = "docs/screenshots";
let keyhook, receiver, login, browser, page, account;
const consoleErrors = [];

async function noSeriousA11yViolations(where) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(
    serious.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`),
    [],
    `axe on ${where}`,
  );
}

/** Requests this test made fail on purpose log a console error; anything else must not. */
function takeConsoleErrors() {
  return consoleErrors.splice(0);
}

before(async () => {
  login = await startLogin();
  keyhook = await startKeyhook([
    "--var",
    `OAUTH_LOGIN_URL:${login.origin}/login`,
    "--var",
    "OAUTH_DYNAMIC_REGISTRATION:true",
    // The Events test runs the cron by hand (`/__scheduled`); with no hot window it moves every
    // final event's history to R2.
    "--test-scheduled",
    "--var",
    "HISTORY_HOT_HOURS:0",
  ]);
  receiver = await startReceiver();
  const created = await apiCall("POST", "/v1/accounts", {
    token: devVar("ADMIN_TOKEN"),
    body: { name: "Browser Co", plan: "pro" },
  });
  account = created.body.account;
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
  page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));
  // Only Keyhook, and (in the OAuth test) the host application's own login and redirect URI.
  page.on("request", (r) =>
    assert.ok(
      r.url().startsWith(BASE) || r.url().startsWith(login.origin),
      `request to a third-party host: ${r.url()}`,
    ),
  );
});

after(async () => {
  await browser?.close();
  receiver?.close();
  login?.close();
  keyhook?.stop();
});

describe("Admin → Integrations", () => {
  it("a bad token says so in the banner", async () => {
    await page.goto(`${BASE}/admin/`);
    await page.getByLabel("Access token").fill("not-a-real-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").getByText("not accepted").waitFor();
    const errs = takeConsoleErrors();
    assert.ok(
      errs.every((e) => /status of 401/.test(e)),
      errs.join("\n"),
    );
    await page.getByRole("button", { name: "Dismiss" }).click();
    assert.equal(await page.getByRole("alert").count(), 0);
  });

  it("signs in with a user token: tabs and the empty state", async () => {
    await page
      .getByLabel("Access token")
      .fill(userJwt({ sub: "u_ada", name: "Ada", account_id: account.id, role: "admin" }));
    await page.getByRole("button", { name: "Sign in" }).click();
    for (const name of ["API keys", "Webhooks", "Audit log"]) await page.getByRole("tab", { name }).waitFor();
    await page.getByText("No API keys yet").waitFor();
    await noSeriousA11yViolations("the API keys tab (empty)");
  });

  it("creates a key; the copy dialog shows it once and only Done closes it", async () => {
    await page.getByRole("button", { name: "+ New API key" }).click();
    await page.getByLabel("Name").fill("CI/CD Pipeline");
    assert.equal(await page.getByLabel("Name").getAttribute("placeholder"), "e.g. CI/CD Pipeline");
    await page.getByLabel("keys:read").check();
    assert.equal(await page.getByLabel("Rate limit (req/hour)").inputValue(), "100");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Copy your API key" });
    await dialog.waitFor();
    const secret = await dialog.getByRole("textbox").inputValue();
    assert.match(secret, /^kh_live_[0-9A-Za-z]{38}$/);
    await page.mouse.click(5, 5); // outside
    await page.keyboard.press("Escape");
    assert.ok(await dialog.isVisible(), "an outside click or Escape must not close it");
    await dialog.getByRole("button", { name: "Copy" }).click();
    await dialog.getByRole("button", { name: "Copied" }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    await page.screenshot({ path: `${SHOTS}/copy-dialog.png` });
    await dialog.getByRole("button", { name: "Done" }).click();
    assert.equal(await dialog.count(), 0);
    const row = page.getByRole("row", { name: /CI\/CD Pipeline/ });
    await row.waitFor();
    assert.match(await row.textContent(), /Read-only/);
    assert.equal((await row.locator(".last-used").textContent()).trim(), "Never");
    assert.match(await row.textContent(), new RegExp(`${secret.slice(0, 12)}…${secret.slice(-4)}`));
    page.secret = secret;
  });

  it("Last used turns into a relative time after the key is used", async () => {
    assert.equal((await apiCall("GET", "/v1/api-keys", { apiKey: page.secret })).status, 200);
    await page.getByRole("tab", { name: "Webhooks" }).click();
    await page.getByRole("tab", { name: "API keys" }).click();
    const lastUsed = page.getByRole("row", { name: /CI\/CD Pipeline/ }).locator(".last-used time");
    await lastUsed.waitFor();
    assert.match(await lastUsed.textContent(), /now|second|minute/);
    assert.ok(await lastUsed.getAttribute("title"), "the exact time is on hover");
    await page.screenshot({ path: `${SHOTS}/api-keys.png` });
  });

  it("a key with usage credits: created in the form, what is left and the next refill in the table", async () => {
    await page.getByRole("button", { name: "+ New API key" }).click();
    await page.getByLabel("Name").fill("Metered export");
    await page.getByLabel("keys:read").check();
    await page.getByLabel("Usage credits (each request spends one)").fill("10");
    await page.getByLabel("Refill credits").selectOption("monthly");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Copy your API key" });
    await dialog.waitFor();
    const secret = await dialog.getByRole("textbox").inputValue();
    await dialog.getByRole("button", { name: "Done" }).click();
    const credits = page.getByRole("row", { name: /Metered export/ }).locator(".credits");
    await credits.waitFor();
    assert.match(await credits.textContent(), /^10 · refills to 10 in \d+ (day|week|month)s? Edit$/);
    for (let i = 0; i < 9; i++) assert.equal((await apiCall("GET", "/v1/api-keys", { apiKey: secret })).status, 200);
    await page.getByRole("tab", { name: "Webhooks" }).click();
    await page.getByRole("tab", { name: "API keys" }).click();
    await page
      .getByRole("row", { name: /Metered export/ })
      .locator(".credits .credits-low")
      .waitFor();
    assert.match(await credits.textContent(), /^1 · refills to 10 in \d+ (day|week|month)s? Edit$/);
    assert.match(
      await page
        .getByRole("row", { name: /CI\/CD Pipeline/ })
        .locator(".credits")
        .textContent(),
      /Unlimited/,
    );
    await page.screenshot({ path: `${SHOTS}/api-keys-credits.png` });
    // Edited in its dialog: a top-up, and the refill kept.
    await page.getByRole("button", { name: "Edit credits: Metered export" }).click();
    const edit = page.getByRole("dialog", { name: "Usage credits: Metered export" });
    assert.equal(await edit.getByLabel("Credits left (empty: unlimited)").inputValue(), "1");
    assert.equal(await edit.getByLabel("Refill credits").inputValue(), "monthly");
    await edit.getByLabel("Credits left (empty: unlimited)").fill("500");
    await edit.getByRole("button", { name: "Save" }).click();
    await edit.waitFor({ state: "detached" });
    await page.waitForFunction(() =>
      /^500 · refills to 10/.test(document.querySelector("tr[data-key-id] .credits")?.textContent ?? ""),
    );
    // Out of the way of the tests below, which start from one key.
    const id = await page.getByRole("row", { name: /Metered export/ }).getAttribute("data-key-id");
    await apiCall("DELETE", `/v1/api-keys/${id}`, { token: devVar("ADMIN_TOKEN"), accountId: account.id });
    await page.getByRole("tab", { name: "Webhooks" }).click();
    await page.getByRole("tab", { name: "API keys" }).click();
    await page.getByRole("row", { name: /CI\/CD Pipeline/ }).waitFor();
    assert.equal(await page.getByRole("row", { name: /Metered export/ }).count(), 0);
  });

  it("charts: the account's verifications by outcome, and one key's over 24 hours and 30 days", async () => {
    // A refusal too, so the picture has two colours: the read-only key verified for a write.
    const token = devVar("ADMIN_TOKEN");
    const denied = await apiCall("POST", "/v1/keys/verify", {
      token,
      body: { key: page.secret, scopes: ["keys:write"] },
    });
    assert.equal(denied.body.code, "INSUFFICIENT_SCOPE");
    // Counts reach D1 within the 5 s flush.
    for (let i = 0; i < 40; i++) {
      const v = await apiCall("GET", "/v1/analytics/verifications", { token, accountId: account.id });
      if (v.body.totals?.outcomes?.INSUFFICIENT_SCOPE) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await page.getByRole("tab", { name: "Webhooks" }).click();
    await page.getByRole("tab", { name: "API keys" }).click();
    const overview = page.getByRole("region", { name: "Verifications" });
    await overview.locator("svg rect").first().waitFor();
    assert.match(await overview.locator("figcaption").textContent(), /Valid \d+.*Missing permission 1/);
    assert.match(await overview.getByRole("list", { name: "Busiest keys" }).textContent(), /Metered export/);
    await page.getByRole("button", { name: "Verifications: CI/CD Pipeline" }).click();
    const dialog = page.getByRole("dialog", { name: "Verifications: CI/CD Pipeline" });
    await dialog.locator("svg rect").first().waitFor();
    assert.match(await dialog.locator("figcaption").textContent(), /Missing permission 1/);
    // The axes: round counts up the side, times along the bottom (every 3rd hour, the newest last).
    const chart = dialog.getByRole("slider", { name: "CI/CD Pipeline: verifications per hour" });
    const counts = await dialog.locator("svg .tick text").allTextContents();
    assert.equal(counts[0], "0");
    assert.ok(counts.length >= 2, `count ticks: ${counts}`);
    const times = await dialog.locator("svg text.time").allTextContents();
    const buckets = Number(await chart.getAttribute("aria-valuemax")) + 1;
    assert.ok(buckets >= 24, `hours: ${buckets}`);
    assert.equal(times.length, Math.ceil(buckets / 3), `time ticks: ${times}`);
    for (const t of times) assert.match(t, /^(\d\d:00|[A-Z][a-z]{2} \d+)$/);
    // Pointing at the newest hour shows its time and counts; the keyboard reads the same.
    const box = await chart.boundingBox();
    await page.mouse.move(box.x + box.width - 12, box.y + box.height / 2);
    const card = dialog.locator(".chart-card:not(.idle)");
    await card.waitFor();
    const pointed = await card.textContent();
    assert.match(pointed, /^[A-Z][a-z]{2} \d+, \d\d:00–\d\d:00\d+ verifications/);
    await page.screenshot({ path: `${SHOTS}/verifications.png` });
    await page.mouse.move(0, 0);
    await card.waitFor({ state: "detached" });
    await chart.focus();
    await page.keyboard.press("End");
    assert.equal(await chart.getAttribute("aria-valuenow"), String(buckets - 1));
    assert.ok(pointed.startsWith((await chart.getAttribute("aria-valuetext")).split(":")[0]));
    // The refusal is in the newest hour, or the one before if the clock struck meanwhile.
    let read = await chart.getAttribute("aria-valuetext");
    if (!read.includes("Missing permission")) {
      await page.keyboard.press("ArrowLeft");
      assert.equal(await chart.getAttribute("aria-valuenow"), String(buckets - 2));
      read = await chart.getAttribute("aria-valuetext");
    }
    assert.match(read, /: \d+ verifications, (Valid \d+, )?Missing permission 1$/);
    await page.keyboard.press("Home");
    assert.equal(await chart.getAttribute("aria-valuenow"), "0");
    await dialog.getByRole("button", { name: "30 days" }).click();
    await dialog.locator('button[aria-pressed="true"]', { hasText: "30 days" }).waitFor();
    await dialog.locator("svg rect").first().waitFor();
    await noSeriousA11yViolations("the verifications dialog");
    await dialog.getByRole("button", { name: "Close" }).click();
    assert.equal(await dialog.count(), 0);
  });

  it("revokes with a confirmation; the row leaves at once and the key is refused", async () => {
    let asked = "";
    page.once("dialog", (d) => {
      asked = d.message();
      d.accept();
    });
    const answered = page.waitForResponse(
      (r) => r.request().method() === "DELETE" && r.url().includes("/v1/api-keys/"),
    );
    await page
      .getByRole("row", { name: /CI\/CD Pipeline/ })
      .getByRole("button", { name: "Revoke" })
      .click();
    assert.equal(asked, "Revoke API key CI/CD Pipeline? This cannot be undone.");
    await page.getByText("No API keys yet").waitFor({ timeout: 2000 });
    // The row leaves at once (before the revoke answered); the key is refused from the answer on.
    assert.equal((await answered).status(), 200);
    assert.equal((await apiCall("GET", "/v1/whoami", { apiKey: page.secret })).status, 401);
  });

  it("a key created with only a permission profile holds only the profile's permissions", async () => {
    const admin = userJwt({ sub: "u_ada", name: "Ada", account_id: account.id, role: "admin" });
    const profile = await apiCall("POST", "/v1/permission-profiles", {
      token: admin,
      body: { name: "Read-only", permissions: ["keys:read"] },
    });
    assert.equal(profile.status, 201);
    await page.getByRole("button", { name: "+ New API key" }).click();
    await page.getByLabel("Name").fill("Reporting");
    await page.getByLabel("Permission profile").selectOption({ label: "Read-only" });
    await page.getByRole("button", { name: "Create", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Copy your API key" });
    await dialog.waitFor();
    const secret = await dialog.getByRole("textbox").inputValue();
    await dialog.getByRole("button", { name: "Done" }).click();
    const row = page.getByRole("row", { name: /Reporting/ });
    await row.waitFor();
    assert.match(await row.textContent(), /Read-only/);
    assert.doesNotMatch(await row.textContent(), /Can impersonate/);
    assert.equal((await apiCall("GET", "/v1/api-keys", { apiKey: secret })).status, 200);
    assert.equal((await apiCall("POST", "/v1/api-keys", { apiKey: secret, body: { name: "escalated" } })).status, 403);
    const key = (await apiCall("GET", "/v1/whoami", { apiKey: secret })).body;
    assert.deepEqual(key.permissions, ["keys:read"]);
    // Leave the tab as the next tests expect it: no keys.
    await apiCall("DELETE", `/v1/api-keys/${key.id}`, { token: admin });
    await page.getByRole("tab", { name: "Webhooks" }).click();
    await page.getByRole("tab", { name: "API keys" }).click();
    await page.getByText("No API keys yet").waitFor();
  });

  it("the keys table asks for the usage of its whole page in one request", async () => {
    const admin = userJwt({ sub: "u_ada", name: "Ada", account_id: account.id, role: "admin" });
    const made = [];
    for (const name of ["One", "Two", "Three"])
      made.push(
        (await apiCall("POST", "/v1/api-keys", { token: admin, body: { name, scopes: ["keys:read"] } })).body.apiKey,
      );
    const usageRequests = [];
    const listen = (r) => /usage/.test(r.url()) && usageRequests.push(r.url());
    page.on("request", listen);
    await page.getByRole("tab", { name: "Webhooks" }).click();
    await page.getByRole("tab", { name: "API keys" }).click();
    await page.getByRole("row", { name: /Three/ }).waitFor();
    await page.waitForResponse((r) => r.url().includes("/v1/api-key-usage")).catch(() => {});
    page.off("request", listen);
    assert.equal(usageRequests.length, 1, usageRequests.join("\n"));
    for (const k of made) assert.ok(usageRequests[0].includes(k.id));
    for (const k of made) await apiCall("DELETE", `/v1/api-keys/${k.id}`, { token: admin });
    await page.getByRole("tab", { name: "Webhooks" }).click();
    await page.getByRole("tab", { name: "API keys" }).click();
    await page.getByText("No API keys yet").waitFor();
  });

  it("a failed load offers Retry", async () => {
    let fail = true;
    await page.route("**/v1/api-keys?*", (route) =>
      fail
        ? route.fulfill({
            status: 500,
            contentType: "application/json",
            body: '{"error":{"code":"internal_error","message":"Internal server error","requestId":"x"}}',
          })
        : route.continue(),
    );
    await page.getByRole("tab", { name: "Audit log" }).click();
    await page.getByRole("tab", { name: "API keys" }).click();
    await page.getByRole("alert").getByText("Could not load API keys").waitFor();
    fail = false;
    await page.getByRole("alert").getByRole("button", { name: "Retry" }).click();
    await page.getByText("No API keys yet").waitFor();
    assert.equal(await page.getByRole("alert").count(), 0);
    await page.unroute("**/v1/api-keys?*");
    assert.ok(takeConsoleErrors().every((e) => /status of 500/.test(e)));
  });

  it("creates a webhook with the generated secret and sends a test event to a real receiver", async () => {
    await page.getByRole("tab", { name: "Webhooks" }).click();
    await page.getByText("No webhooks yet").waitFor();
    await page.getByRole("button", { name: "+ New webhook" }).click();
    await page.getByLabel("URL").fill(receiver.url);
    // At 1280 px the URL, filter, headers and secret fields are as wide as the form, not a few words.
    const form = await page.getByRole("form", { name: "New webhook" }).boundingBox();
    for (const label of ["URL", "Filter (optional, JSON)", /^Custom headers/, "Secret"]) {
      const field = await page.getByLabel(label, { exact: typeof label === "string" }).boundingBox();
      assert.ok(field.width >= form.width * 0.9, `${label}: ${field.width} px of a ${form.width} px form`);
    }
    const secret = await page.getByLabel("Secret", { exact: true }).inputValue();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    await page.getByRole("button", { name: "Regenerate" }).click();
    assert.notEqual(await page.getByLabel("Secret", { exact: true }).inputValue(), secret);
    await page.getByLabel("api_key.created").waitFor();
    await page.getByLabel("All events").check();
    await page.getByLabel("Description").fill("Ops alerts");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    const row = page.getByRole("row", { name: new RegExp(receiver.url.replace(/[.:/]/g, "\\$&")) });
    await row.waitFor();
    assert.match(await row.textContent(), /All events/);
    await noSeriousA11yViolations("the Webhooks tab");
    await row.getByRole("button", { name: "Send test event" }).click();
    const until = Date.now() + 10_000;
    while (receiver.received.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    assert.equal(receiver.received.length, 1);
    assert.equal(JSON.parse(receiver.received[0].body).event, "webhook.test");
    await row.getByRole("button", { name: "Delivery history" }).click();
    const history = page.locator(".attempts li").first();
    for (let i = 0; i < 20 && !(await history.isVisible()); i++) {
      await page.getByRole("button", { name: "Refresh" }).click();
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.match(await history.textContent(), /webhook\.test.*200/s);
    await history.locator("summary").click();
    assert.match(await history.textContent(), /webhook-signature: v1,/);
    await page.screenshot({ path: `${SHOTS}/webhooks.png`, fullPage: true });
    await row.getByRole("button", { name: "Edit" }).click();
    await page.getByRole("button", { name: "Reveal secret" }).click();
    await page.locator("code.secret").waitFor();
    assert.match(await page.locator("code.secret").textContent(), /^whsec_/);
    await page.getByRole("button", { name: "Cancel" }).click();
  });

  it("a v1a webhook: Keyhook makes the key, the page shows only the receiver's public key", async () => {
    const admin = { token: devVar("ADMIN_TOKEN"), accountId: account.id };
    const url = receiver.url.replace(/\/hooks$/, "/v1a");
    await page.getByRole("button", { name: "+ New webhook" }).click();
    await page.getByLabel("URL").fill(url);
    await page.getByLabel("Signatures").selectOption("v1a");
    assert.equal(await page.getByLabel("Secret", { exact: true }).count(), 0);
    await page.getByLabel("All events").check();
    await page.getByRole("button", { name: "Create", exact: true }).click();
    const row = page.getByRole("row", { name: new RegExp(url.replace(/[.:/]/g, "\\$&")) });
    await row.waitFor();
    await row.getByRole("button", { name: "Edit" }).click();
    await page.getByRole("button", { name: "Show public key" }).click();
    await page.locator("code.secret").waitFor();
    assert.match(await page.locator("code.secret").textContent(), /^whpk_[A-Za-z0-9+/]{43}=$/);
    await page.getByRole("button", { name: "Cancel" }).click();
    const listed = await apiCall("GET", "/v1/webhooks", admin);
    const made = listed.body.webhooks.find((w) => w.url === url);
    assert.equal(made.signatureScheme, "v1a");
    assert.equal((await apiCall("DELETE", `/v1/webhooks/${made.id}`, admin)).status, 200);
  });

  it("per-endpoint settings in the form; Replay sends what was missed while the webhook was disabled", async () => {
    const admin = { token: devVar("ADMIN_TOKEN"), accountId: account.id };
    const url = receiver.url.replace(/\/hooks$/, "/settings");
    await page.getByRole("button", { name: "+ New webhook" }).click();
    await page.getByLabel("URL").fill(url);
    await page.getByLabel("All events").check();
    await page.getByLabel(/Custom headers/).fill("X-Tenant: acme");
    await page.getByLabel(/Throttle/).fill("5");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    const row = page.getByRole("row", { name: new RegExp(url.replace(/[.:/]/g, "\\$&")) });
    await row.waitFor();
    const made = (await apiCall("GET", "/v1/webhooks", admin)).body.webhooks.find((w) => w.url === url);
    after(() => apiCall("DELETE", `/v1/webhooks/${made.id}`, admin)); // the Events test counts the webhooks
    assert.deepEqual(made.headerNames, ["X-Tenant"]);
    assert.equal(made.throttle, 5);
    // Events published while it is disabled are never matched to it; Replay sends them.
    const patch = (status) => apiCall("PATCH", `/v1/webhooks/${made.id}`, { ...admin, body: { status } });
    assert.equal((await patch("disabled")).status, 200);
    const missed = [];
    for (let i = 0; i < 2; i++) {
      const res = await apiCall("POST", "/v1/events", { ...admin, body: { type: "invoice.overdue", entity: { i } } });
      missed.push(res.body.event.id);
    }
    assert.equal((await patch("active")).status, 200);
    await page.getByRole("tab", { name: "API keys" }).click();
    await page.getByRole("tab", { name: "Webhooks" }).click();
    await row.getByRole("button", { name: "Replay" }).click();
    const panel = page.getByRole("form", { name: "Replay missed events" });
    await panel.getByRole("button", { name: "Replay", exact: true }).click();
    await panel.getByRole("status").filter({ hasText: "2 events on the way" }).waitFor();
    await noSeriousA11yViolations("the replay panel");
    const at = (p) => receiver.received.filter((r) => r.path === p);
    const until = Date.now() + 10_000;
    while (at("/settings").length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      at("/settings").map((r) => r.headers["webhook-id"]),
      missed,
    );
    assert.ok(at("/settings").every((r) => r.headers["x-tenant"] === "acme"));
    await panel.getByRole("button", { name: "Close" }).click();
    // The form shows the headers back, values and all.
    await row.getByRole("button", { name: "Edit" }).click();
    await page.waitForFunction(() => document.querySelector("#wh-headers")?.value === "X-Tenant: acme");
    await page.getByRole("button", { name: "Cancel" }).click();
    assert.equal((await apiCall("DELETE", `/v1/webhooks/${made.id}`, admin)).status, 200);
  });

  it("a receiver's <script> response body is shown as text in the delivery history, never run", async () => {
    const admin = { token: devVar("ADMIN_TOKEN"), accountId: account.id };
    const url = receiver.url.replace(/\/hooks$/, "/script");
    const created = await apiCall("POST", "/v1/webhooks", { ...admin, body: { url, events: ["*"] } });
    assert.equal(created.status, 201);
    const sent = await apiCall("POST", `/v1/webhooks/${created.body.webhook.id}/test`, { ...admin, body: {} });
    assert.equal(sent.status, 202);
    await page.getByRole("tab", { name: "API keys" }).click();
    await page.getByRole("tab", { name: "Webhooks" }).click();
    const row = page.getByRole("row", { name: new RegExp(url.replace(/[.:/]/g, "\\$&")) });
    await row.getByRole("button", { name: "Delivery history" }).click();
    const history = page.locator(".attempts li").first();
    for (let i = 0; i < 20 && !(await history.isVisible()); i++) {
      await page.getByRole("button", { name: "Refresh" }).click();
      await new Promise((r) => setTimeout(r, 300));
    }
    await history.locator("summary").click();
    const shown = await history.locator("pre").allTextContents();
    assert.ok(shown.includes(SCRIPT_BODY), `the body, as text: ${JSON.stringify(shown)}`);
    assert.equal(await page.locator(".attempts script, .attempts img").count(), 0);
    await new Promise((r) => setTimeout(r, 300)); // an onerror would have fired by now
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    await page.getByRole("button", { name: "Close" }).click();
  });

  it("Events: one log over D1 and the R2 archive; an archived event's deliveries and attempts, filters, retry", async () => {
    const admin = { token: devVar("ADMIN_TOKEN"), accountId: account.id };
    const publish = async (n) => {
      const body = { type: "order.paid", entity: { order: `ord_${n}`, total: n * 100 } };
      const res = await apiCall("POST", "/v1/events", { ...admin, body });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body.event.id;
    };
    const eventually = async (check, what) => {
      const until = Date.now() + 20_000;
      while (!(await check())) {
        assert.ok(Date.now() < until, `timed out: ${what}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    };
    const delivered = async (id) => (await apiCall("GET", `/v1/events/${id}`, admin)).body.event.status === "delivered";
    // The local R2 bucket's objects, as `wrangler dev` keeps them: gzip NDJSON.
    const blobs = ".wrangler/state/v3/r2/keyhook-history/blobs";
    const inArchive = (id) =>
      readdirSync(blobs).some((f) =>
        gunzipSync(readFileSync(join(blobs, f)))
          .toString()
          .includes(`"id":"${id}"`),
      );

    // The first event's deliveries end, then the cron moves its history out of D1 into R2.
    const archived = await publish(1);
    await eventually(() => delivered(archived), "the first event delivered");
    await fetch(`${BASE}/__scheduled?cron=*+*+*+*+*`);
    await eventually(() => inArchive(archived), "the first event in an R2 object");
    const recent = await publish(2);
    await eventually(() => delivered(recent), "the second event delivered");

    await page.getByRole("tab", { name: "Events" }).click();
    const rowOf = (id) => page.locator(`tr[data-event-id="${id}"]`);
    await rowOf(recent).waitFor();
    await rowOf(archived).waitFor();
    // Newest first; both with two successful deliveries (the two webhooks that take every event).
    const ids = await page.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.eventId));
    assert.ok(ids.indexOf(recent) < ids.indexOf(archived), `newest first: ${ids}`);
    for (const id of [recent, archived])
      assert.match(await rowOf(id).textContent(), /order\.paid.*Delivered.*2 succeeded/s);
    await noSeriousA11yViolations("the Events tab");

    // The archived event: its entity, its deliveries and their attempts.
    await rowOf(archived).getByRole("button", { name: "Details" }).click();
    const panel = page.locator("section.panel", { has: page.getByRole("heading", { name: /^Event / }) });
    await panel.getByText('"ord_1"').waitFor();
    const deliveries = panel.locator(".deliveries > li");
    assert.equal(await deliveries.count(), 2);
    for (const d of await deliveries.all()) assert.match(await d.textContent(), /succeeded.*1 attempt.*200/s);
    await page.screenshot({ path: `${SHOTS}/events.png`, fullPage: true });

    // Retry one of its deliveries: the receiver gets the same event again, and the panel shows a second attempt.
    const before = receiver.received.length;
    const first = deliveries.first();
    const deliveryId = await first.getAttribute("data-delivery-id");
    await first.getByRole("button", { name: "Retry" }).click();
    await eventually(async () => {
      await panel.getByRole("button", { name: "Refresh" }).click();
      return /2 attempts/.test(await panel.locator(`li[data-delivery-id="${deliveryId}"]`).textContent());
    }, "the retry's attempt in the panel");
    const again = receiver.received.slice(before).map((r) => JSON.parse(r.body));
    assert.ok(
      again.some((b) => b.id === archived && b.entity.order === "ord_1"),
      `the archived event sent again: ${JSON.stringify(again)}`,
    );
    await panel.getByRole("button", { name: "Close" }).click();

    // Filters: by type (the key events Keyhook published itself, not ours), then by status.
    await page.getByLabel("Type").fill("api_key.revoked");
    await page.getByRole("button", { name: "Apply" }).click();
    await rowOf(archived).waitFor({ state: "detached" });
    await page.locator("tbody tr").first().waitFor();
    const types = await page.locator("tbody tr td:nth-child(2)").allTextContents();
    assert.ok(types.length > 0 && types.every((t) => t === "api_key.revoked"), `only api_key.revoked: ${types}`);
    await page.getByLabel("Type").fill("order.paid");
    await page.getByLabel("Status").selectOption("delivered");
    await page.getByRole("button", { name: "Apply" }).click();
    await rowOf(archived).waitFor();
    assert.equal(await page.locator("tbody tr").count(), 2);
    await page.getByLabel("Status").selectOption("failing");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByText("No events").waitFor();
  });

  it("the audit log shows those actions, the key under its own name", async () => {
    await page.getByRole("tab", { name: "Audit log" }).click();
    await page.getByRole("table").waitFor();
    const text = await page.getByRole("table").textContent();
    for (const action of ["api_key.created", "api_key.revoked", "webhook.created", "account.created"])
      assert.match(text, new RegExp(action.replace(".", "\\.")));
    assert.match(text, /Ada/);
    await page.getByLabel("Action").fill("api_key.revoked");
    await page.getByRole("button", { name: "Apply" }).click();
    // The keys revoked above: the pipeline key, the metered one, the profile-only one and the three
    // of the usage test.
    await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 6);
    await noSeriousA11yViolations("the Audit log tab");
    await page.screenshot({ path: `${SHOTS}/audit-log.png` });
  });

  it("the operator signs in and picks an account", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Access token").fill(devVar("ADMIN_TOKEN"));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByLabel("Account").selectOption(account.id);
    await page.getByRole("tab", { name: "API keys" }).waitFor();
    await page.getByText("No API keys yet").waitFor();
  });

  it("the operator reads the deployment's storage under Events: D1's size, the history's share and budget, the archive", async () => {
    // The Events test ran the cron: the history has been measured and moved to R2 (no hot window).
    const api = await apiCall("GET", "/v1/deployment/storage", { token: devVar("ADMIN_TOKEN") });
    assert.equal(api.status, 200);
    assert.ok(api.body.history.measuredAt !== null && api.body.archive.objects > 0, JSON.stringify(api.body));
    await page.getByRole("tab", { name: "Events" }).click();
    await page.getByRole("heading", { name: "Deployment storage" }).waitFor();
    const table = page.getByRole("table", { name: "Deployment storage" });
    const cell = (name) => table.getByRole("row", { name: new RegExp(name) }).locator("td");
    assert.match(await cell("D1 database").textContent(), /^\d+(\.\d)? (KB|MB|GB)$/);
    assert.match(
      await cell("Webhook history in D1").textContent(),
      /^\d+(\.\d)? (B|KB|MB) \(\d+% of D1\) of a 6\.0 GB budget, [\d,]+ events · measured /,
    );
    assert.match(
      await cell("Archive in R2").textContent(),
      new RegExp(` in ${api.body.archive.objects.toLocaleString("en")} objects, `),
    );
    assert.equal(await page.getByRole("alert").count(), 0);
    await noSeriousA11yViolations("the Events tab, as the operator");
  });

  it("the operator creates an operator key under API keys (shown once), it works within its scopes, and Revoke refuses it at once", async () => {
    const name = `Svix client ${Date.now().toString(36)}`;
    await page.getByRole("tab", { name: "API keys" }).click();
    await page.getByRole("heading", { name: "Operator keys" }).waitFor();
    await page.getByRole("button", { name: "Create operator key" }).click();
    await page.getByLabel("Name").fill(name);
    await page.getByRole("checkbox", { name: "operator:read" }).check();
    await page.getByRole("button", { name: "Create", exact: true }).click();
    const secret = await page.getByLabel("Operator key", { exact: true }).inputValue();
    assert.match(secret, /^kh_op_[0-9A-Za-z]{38}$/);
    await page.screenshot({ path: `${SHOTS}/operator-key-created.png` });
    await page.getByRole("button", { name: "Done" }).click();
    const row = page.getByRole("row", { name: new RegExp(name) });
    await row.waitFor();
    assert.match(
      await row.textContent(),
      new RegExp(`${secret.slice(0, 10)}…${secret.slice(-4)}.*operator:read.*Active`),
    );
    await noSeriousA11yViolations("the operator keys section");

    assert.equal((await apiCall("GET", "/v1/accounts", { token: secret })).status, 200);
    const write = await apiCall("POST", "/v1/accounts", { token: secret, body: { name: "No", plan: "pro" } });
    assert.equal(write.status, 403);
    page.once("dialog", (d) => d.accept());
    await row.getByRole("button", { name: `Revoke ${name}` }).click();
    await row.getByText("Revoked").waitFor();
    const refused = await apiCall("GET", "/v1/accounts", { token: secret });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.message, "This operator key is revoked");
  });

  it("OAuth apps: registers a confidential app in the form; its secret is shown once", async () => {
    await page.getByRole("tab", { name: "OAuth apps" }).click();
    await page.getByText("No OAuth apps yet").waitFor();
    await page.getByRole("button", { name: "Register app" }).click();
    await page.getByLabel("Name").fill("Example app");
    await page.getByLabel("Redirect URIs (one per line)").fill(`${login.origin}/callback`);
    await page.getByLabel("keys:read").check();
    await page.getByLabel("webhooks:read").check();
    await page.getByRole("button", { name: "Register", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Copy the client secret" });
    await dialog.waitFor();
    const secret = await dialog.getByRole("textbox").inputValue();
    assert.match(secret, /^kh_cs_[0-9A-Za-z]{38}$/);
    const clientId = (await dialog.locator("code").textContent()).trim();
    await dialog.getByRole("button", { name: "Done" }).click();
    const row = page.getByRole("row", { name: /Example app/ });
    await row.waitFor();
    assert.match(await row.textContent(), new RegExp(`${clientId}.*secret …${secret.slice(-4)}`));
    await noSeriousA11yViolations("the OAuth apps tab");
    await page.screenshot({ path: `${SHOTS}/oauth-apps.png` });
    page.oauthClient = { clientId, secret };
  });

  it("a user authorizes the app through the host's login and Keyhook's consent page (PKCE)", async () => {
    const { clientId, secret } = page.oauthClient;
    const as = await oauth.processDiscoveryResponse(
      new URL(BASE),
      await oauth.discoveryRequest(new URL(BASE), { algorithm: "oauth2", [oauth.allowInsecureRequests]: true }),
    );
    const verifier = oauth.generateRandomCodeVerifier();
    const authorize = new URL(as.authorization_endpoint);
    authorize.search = new URLSearchParams({
      response_type: "code",
      client_id: clientId,
      redirect_uri: `${login.origin}/callback`,
      scope: "keys:read webhooks:read",
      state: "browser-state",
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
    }).toString();
    login.user = { sub: "u_grace", name: "Grace", account_id: account.id, role: "member", permissions: ["keys:read"] };
    const loaded = [];
    const track = (r) => loaded.push(r.url());
    page.on("request", track);
    await page.goto(authorize.href);
    await page.getByRole("heading", { name: "Authorize Example app" }).waitFor();
    page.off("request", track);
    const text = await page.locator("main").textContent();
    assert.match(text, /Grace/);
    assert.match(text, /See API keys and their usage/);
    assert.match(text, /See webhooks and their delivery history/);
    // The consent page loads nothing but Keyhook's own stylesheet, under the admin page's CSP.
    assert.deepEqual(
      loaded.filter((u) => !u.startsWith(BASE) && !u.startsWith(login.origin)),
      [],
    );
    await noSeriousA11yViolations("the consent page");
    await page.screenshot({ path: `${SHOTS}/oauth-consent.png` });
    await page.getByRole("button", { name: "Allow" }).click();
    await page.getByRole("heading", { name: "Connected" }).waitFor();
    const callback = login.callbacks.at(-1);
    assert.equal(callback.searchParams.get("state"), "browser-state");
    const client = { client_id: clientId };
    const params = oauth.validateAuthResponse(as, client, callback, "browser-state");
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(
        as,
        client,
        oauth.ClientSecretBasic(secret),
        params,
        `${login.origin}/callback`,
        verifier,
        { [oauth.allowInsecureRequests]: true },
      ),
    );
    const me = await apiCall("GET", "/v1/whoami", { token: tokens.access_token });
    assert.equal(me.body.type, "oauth");
    assert.deepEqual(me.body.onBehalfOf, { type: "user", id: "u_grace" });
    // webhooks:read was granted but Grace does not hold it: the token does not either.
    assert.deepEqual(me.body.permissions, ["keys:read"]);
    page.oauthToken = tokens.access_token;
  });

  it("Authorized apps: revoking a user's authorization refuses the app's token at once", async () => {
    await page.goto(`${BASE}/admin/`);
    await page.getByRole("tab", { name: "Authorized apps" }).click();
    const row = page.getByRole("row", { name: /Example app.*Grace/ });
    await row.waitFor();
    assert.match(await row.textContent(), /keys:read, webhooks:read/);
    await noSeriousA11yViolations("the Authorized apps tab");
    await page.screenshot({ path: `${SHOTS}/authorized-apps.png` });
    page.once("dialog", (d) => d.accept());
    await row.getByRole("button", { name: "Revoke Example app for Grace" }).click();
    await page.getByText("No app has been authorized").waitFor();
    assert.equal((await apiCall("GET", "/v1/whoami", { token: page.oauthToken })).status, 401);
  });

  it("the operator sees the deployment's apps — shared and self-registered — and disables or deletes one for every account", async () => {
    const admin = devVar("ADMIN_TOKEN");
    const run = Date.now().toString(36); // the local state outlives a run: names of this run's own
    const [sharedName, agentName] = [`Shared CLI ${run}`, `Agent ${run}`];
    const shared = await apiCall("POST", "/v1/deployment/oauth-clients", {
      token: admin,
      body: { name: sharedName, redirectUris: ["http://127.0.0.1:8976/callback"], scopes: ["keys:read"] },
    });
    assert.equal(shared.status, 201);
    const registered = await apiCall("POST", "/oauth/register", {
      body: { client_name: agentName, redirect_uris: ["http://127.0.0.1:33418/callback"] },
    });
    assert.equal(registered.status, 201);
    await page.goto(`${BASE}/admin/`);
    await page.getByRole("tab", { name: "OAuth apps" }).click();
    await page.getByRole("heading", { name: "Deployment apps" }).waitFor();
    const sharedRow = page.getByRole("row", { name: new RegExp(sharedName) });
    const agentRow = page.getByRole("row", { name: new RegExp(agentName) });
    await agentRow.waitFor();
    assert.match(await sharedRow.textContent(), /\(shared\).*Active/);
    assert.match(
      await agentRow.textContent(),
      new RegExp(`\\(registered itself\\).*${registered.body.client_id}.*Active`),
    );
    // The account's own list does not show them.
    assert.equal(await page.getByRole("row", { name: /Example app/ }).count(), 1);
    await noSeriousA11yViolations("the OAuth apps tab, as the operator");

    await agentRow.getByRole("button", { name: `Disable ${agentName} in every account` }).click();
    await agentRow.getByText("Disabled").waitFor();
    const got = await apiCall("GET", `/v1/deployment/oauth-clients/${registered.body.client_id}`, { token: admin });
    assert.equal(got.body.client.enabled, false);

    page.once("dialog", (d) => d.accept());
    await sharedRow.getByRole("button", { name: `Delete ${sharedName} in every account` }).click();
    await sharedRow.waitFor({ state: "detached" });
    const gone = await apiCall("GET", `/v1/deployment/oauth-clients/${shared.body.client.id}`, { token: admin });
    assert.equal(gone.status, 404);
  });

  it("the API reference at /docs is served by the Worker itself", async () => {
    await page.goto(`${BASE}/docs`);
    await page.getByRole("heading", { name: "Keyhook API" }).waitFor({ timeout: 20_000 });
    for (const tag of ["API keys", "Webhooks", "Deliveries", "Audit log"])
      await page.getByText(tag, { exact: true }).first().waitFor();
    await page.screenshot({ path: `${SHOTS}/api-reference.png` });
  });

  it("no console errors on any page", () => {
    assert.deepEqual(takeConsoleErrors(), []);
  });
});

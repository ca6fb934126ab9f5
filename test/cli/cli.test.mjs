// Every `keyhook` command against a running Worker (`npm run dev`), as a script would run it.
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Webhook } from "svix";
import { apiCall, BASE, devVar, startKeyhook, startReceiver } from "../browser/harness.mjs";

let keyhook, receiver, env;

function keyhookCli(args, extraEnv = {}) {
  return new Promise((resolve) => {
    execFile(
      "node",
      ["bin/keyhook.mjs", ...args],
      { env: { ...process.env, ...env, ...extraEnv } },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }),
    );
  });
}
const json = async (args) => {
  const r = await keyhookCli([...args, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
};

before(async () => {
  keyhook = await startKeyhook();
  receiver = await startReceiver();
  const admin = devVar("ADMIN_TOKEN");
  const account = (await apiCall("POST", "/v1/accounts", { token: admin, body: { name: "CLI Co", plan: "pro" } })).body
    .account;
  const created = await apiCall("POST", "/v1/api-keys", {
    token: admin,
    accountId: account.id,
    body: { name: "CLI admin key" },
  });
  env = { KEYHOOK_URL: BASE, KEYHOOK_API_KEY: created.body.key };
});

after(() => {
  receiver?.close();
  keyhook?.stop();
});

describe("keyhook CLI", () => {
  it("whoami, as a table and as JSON", async () => {
    const r = await keyhookCli(["whoami"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /name\s+CLI admin key/);
    assert.equal((await json(["whoami"])).type, "api_key");
  });

  it("keys: create (secret once, with a warning), list, get, update, usage, rotate, revoke", async () => {
    const created = await keyhookCli([
      "keys",
      "create",
      "--name",
      "Deploy",
      "--scopes",
      "keys:read",
      "--expires-in-days",
      "30",
    ]);
    assert.equal(created.code, 0);
    assert.match(created.stderr, /shown only once/);
    const secret = /key\s+(kh_live_\S+)/.exec(created.stdout)[1];
    const id = /^id\s+(key_\S+)/m.exec(created.stdout)[1];
    assert.match((await keyhookCli(["keys", "list"])).stdout, /Deploy/);
    assert.equal((await json(["keys", "get", id])).apiKey.name, "Deploy");
    assert.equal(
      (await json(["keys", "update", id, "--name", "Deploy 2", "--enabled", "false"])).apiKey.enabled,
      false,
    );
    await json(["keys", "update", id, "--enabled", "true"]);
    assert.equal((await keyhookCli(["whoami"], { KEYHOOK_API_KEY: secret })).code, 0);
    assert.equal((await json(["keys", "usage", id])).usage.length, 48);
    const rotated = await json(["keys", "rotate", id, "--grace-seconds", "0"]);
    assert.notEqual(rotated.key, secret);
    assert.equal((await keyhookCli(["keys", "revoke", id])).code, 0);
    const refused = await keyhookCli(["whoami"], { KEYHOOK_API_KEY: rotated.key });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /invalid_credentials/);
  });

  it("webhooks: create, list, get, update, test, attempts, retry, rotate-secret, delete", async () => {
    const created = await json([
      "webhooks",
      "create",
      "--webhook-url",
      receiver.url,
      "--events",
      "*",
      "--description",
      "from the CLI",
    ]);
    const id = created.webhook.id;
    assert.match(created.secret, /^whsec_/);
    assert.match((await keyhookCli(["webhooks", "list"])).stdout, new RegExp(id));
    assert.equal((await json(["webhooks", "get", id])).webhook.description, "from the CLI");
    assert.equal((await json(["webhooks", "update", id, "--description", "changed"])).webhook.description, "changed");
    await json(["webhooks", "test", id, "--event", "webhook.test"]);
    let attempts = [];
    for (let i = 0; i < 50 && attempts.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      attempts = (await json(["webhooks", "attempts", id])).attempts;
    }
    assert.equal(attempts[0].responseStatus, 200);
    assert.match((await keyhookCli(["webhooks", "attempts", id])).stdout, /webhook\.test\s+200/);
    assert.equal((await json(["webhooks", "retry", attempts[0].deliveryId])).delivery.status, "pending");
    const rotated = await json(["webhooks", "rotate-secret", id, "--overlap-seconds", "60"]);
    assert.notEqual(rotated.secret, created.secret);
    // v1a: switching schemes by rotation prints the receiver's public key, never the signing key.
    const moved = await keyhookCli(["webhooks", "rotate-secret", id, "--signature-scheme", "v1a"]);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, /public key {2}whpk_[A-Za-z0-9+/]{43}=/);
    assert.doesNotMatch(moved.stdout, /whsk_/);
    assert.equal((await json(["webhooks", "get", id])).webhook.signatureScheme, "v1a");
    assert.equal((await keyhookCli(["webhooks", "rotate-secret", id, "--signature-scheme", "v2"])).code, 2);
    assert.equal((await keyhookCli(["webhooks", "delete", id])).code, 0);
  });

  it("webhooks: --headers, --throttle, --timeout-ms on create and update; replay while disabled", async () => {
    const url = `${receiver.url}/cli-settings`;
    const created = await json([
      "webhooks",
      "create",
      "--webhook-url",
      url,
      "--events",
      "cli.settings",
      "--headers",
      '{"X-Tenant":"cli-co"}',
      "--throttle",
      "5",
      "--timeout-ms",
      "2000",
    ]);
    const id = created.webhook.id;
    assert.deepEqual(created.webhook.headerNames, ["X-Tenant"]);
    assert.equal(created.webhook.throttle, 5);
    assert.equal(created.webhook.timeoutMs, 2000);
    assert.equal(
      (await keyhookCli(["webhooks", "create", "--webhook-url", url, "--events", "*", "--throttle", "x"])).code,
      2,
    );
    const refused = await keyhookCli(["webhooks", "update", id, "--headers", '{"webhook-signature":"v1,x"}']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /webhook-signature/);

    // Disabled, then two events are published: replay sends both, in order, with the header.
    await json(["webhooks", "update", id, "--status", "disabled", "--throttle", "none", "--timeout-ms", "none"]);
    const since = new Date(Date.now() - 1000).toISOString();
    for (const n of [1, 2]) await json(["events", "publish", "--type", "cli.settings", "--entity", `{"n":${n}}`]);
    const updated = await json(["webhooks", "update", id, "--status", "active", "--headers", "null"]);
    assert.equal(updated.webhook.throttle, null);
    assert.equal(updated.webhook.timeoutMs, null);
    assert.deepEqual(updated.webhook.headerNames, []);
    await json(["webhooks", "update", id, "--headers", '{"X-Tenant":"cli-co"}']);
    const replayed = await keyhookCli(["webhooks", "replay", id, "--since", since]);
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.match(replayed.stdout, /Replaying 2 event\(s\)/);
    let got = [];
    for (let i = 0; i < 50 && got.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 200));
      got = receiver.received.filter((r) => r.path === "/hooks/cli-settings");
    }
    assert.deepEqual(
      got.map((r) => JSON.parse(r.body).entity.n),
      [1, 2],
    );
    assert.equal(got[0].headers["x-tenant"], "cli-co");
    assert.match((await keyhookCli(["webhooks", "replay", id, "--since", since])).stdout, /Replaying 0 event\(s\)/);
    assert.equal((await json(["webhooks", "replay-all", "--since", since])).replayed, 0);
  });

  it("events publish, with --entity as JSON or @file", async () => {
    const inline = await json(["events", "publish", "--type", "issue.resolved", "--entity", '{"id":"iss_1"}']);
    assert.equal(inline.event.type, "issue.resolved");
    const file = join(tmpdir(), `entity-${process.pid}.json`);
    writeFileSync(file, '{"id":"iss_2","severity":"major"}');
    const fromFile = await json(["events", "publish", "--type", "issue.resolved", "--entity", `@${file}`]);
    assert.deepEqual(fromFile.event.entity, { id: "iss_2", severity: "major" });
  });

  it("audit list", async () => {
    const entries = (await json(["audit", "list", "--action", "api_key.revoked"])).entries;
    assert.equal(entries[0].action, "api_key.revoked");
    assert.match((await keyhookCli(["audit", "list"])).stdout, /WHEN\s+WHO\s+ACTION/);
  });

  it("operator-keys: create (secret once), use it, list, update, revoke; the deployment's log names each", async () => {
    const admin = { KEYHOOK_API_KEY: devVar("ADMIN_TOKEN") };
    const created = await keyhookCli(
      ["operator-keys", "create", "--name", "CI job", "--scopes", "operator:read"],
      admin,
    );
    assert.equal(created.code, 0, created.stderr);
    const key = /key\s+(kh_op_\w+)/.exec(created.stdout)?.[1];
    assert.ok(key, created.stdout);
    assert.match(created.stderr, /shown only once/);
    const id = /id\s+(opk_\w+)/.exec(created.stdout)?.[1];
    // The key is the operator's, within its scopes: it lists, it does not create.
    const listed = await keyhookCli(["operator-keys", "list"], { KEYHOOK_API_KEY: key });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${id}\\s+CI job`));
    const refused = await keyhookCli(["operator-keys", "create", "--name", "wider"], { KEYHOOK_API_KEY: key });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: insufficient_scope: /);
    const renamed = await keyhookCli(["operator-keys", "update", id, "--name", "CI job (old)"], admin);
    assert.match(renamed.stdout, /name\s+CI job \(old\)/);
    assert.equal((await keyhookCli(["operator-keys", "revoke", id], admin)).code, 0);
    const after = await keyhookCli(["operator-keys", "list"], { KEYHOOK_API_KEY: key });
    assert.equal(after.code, 1);
    assert.match(after.stderr, /^error: invalid_credentials: This operator key is revoked/);
    const log = JSON.parse(
      (await keyhookCli(["audit", "list", "--deployment", "--target", id, "--json"], admin)).stdout,
    );
    assert.deepEqual(
      log.entries.map((e) => e.action),
      ["operator_key.revoked", "operator_key.updated", "operator_key.created"],
    );
  });

  it("a wrong key: exit 1 with the code, the message and what to do on stderr", async () => {
    const r = await keyhookCli(["keys", "list"], { KEYHOOK_API_KEY: "kh_live_wrongwrongwrongwrongwrongwrongwrong00" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: invalid_credentials: /);
    assert.match(r.stderr, /Check KEYHOOK_API_KEY/);
  });

  it("keys with usage credits: create, adjust, spend, refuse", async () => {
    const made = await json(["keys", "create", "--name", "Metered", "--credits", "2", "--refill", "monthly"]);
    assert.deepEqual(made.apiKey.credits.refill, { interval: "monthly", amount: 2, dayOfMonth: 1 });
    const id = made.apiKey.id;
    assert.equal((await json(["keys", "credits", id, "--add", "3"])).apiKey.credits.remaining, 5);
    assert.equal((await json(["keys", "credits", id, "--set", "1"])).apiKey.credits.remaining, 1);
    assert.equal((await keyhookCli(["whoami"], { KEYHOOK_API_KEY: made.key })).code, 0);
    const out = await keyhookCli(["whoami"], { KEYHOOK_API_KEY: made.key });
    assert.equal(out.code, 1);
    assert.match(out.stderr, /usage_exceeded/);
    assert.equal((await keyhookCli(["keys", "credits", id])).code, 2);
    assert.equal((await json(["keys", "update", id, "--credits", "none"])).apiKey.credits, null);
  });

  it("usage errors exit 2; --help on every command exits 0", async () => {
    assert.equal((await keyhookCli(["keys", "create"])).code, 2);
    assert.equal((await keyhookCli(["keys", "get"])).code, 2);
    assert.equal((await keyhookCli(["nothing"])).code, 2);
    assert.equal((await keyhookCli(["keys", "list", "--bogus"])).code, 2);
    assert.equal((await keyhookCli(["whoami"], { KEYHOOK_URL: "" })).code, 2);
    for (const command of [
      "whoami",
      "keys list",
      "keys create",
      "webhooks rotate-secret",
      "events publish",
      "audit list",
    ]) {
      const r = await keyhookCli([...command.split(" "), "--help"]);
      assert.equal(r.code, 0, command);
      assert.match(r.stdout, new RegExp(`^Usage: keyhook ${command}`));
    }
    assert.equal((await keyhookCli(["--help"])).code, 0);
  });
});

describe("keyhook doctor", () => {
  it("against `npm run dev`: every line good, exit 0", async () => {
    const r = await keyhookCli(["doctor"], { KEYHOOK_API_KEY: devVar("ADMIN_TOKEN") });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const part of [
      "reachable",
      "configuration",
      "migrations",
      "D1",
      "KV",
      "R2",
      "queue consumer",
      "cron",
      "edge purges",
    ]) {
      assert.match(r.stdout, new RegExp(`^✓ ${part}\\b`, "m"), part);
    }
    assert.match(r.stdout, /All good\./);
  });

  it("a Worker with a bad setting and a missing binding: the lines that name them, exit 1", async () => {
    // The same Worker without its R2 binding, HISTORY_MAX_MB not a number, on its own port and state.
    const config = "wrangler.doctor-test.toml";
    writeFileSync(config, readFileSync("wrangler.toml", "utf8").replace(/\[\[r2_buckets\]\][^[]*/, ""));
    const other = await anotherKeyhook(8796, ["--var", "HISTORY_MAX_MB:lots"], config);
    try {
      const r = await keyhookCli(["doctor"], { KEYHOOK_URL: other.url, KEYHOOK_API_KEY: devVar("ADMIN_TOKEN") });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /^✓ reachable/m);
      assert.match(r.stdout, /^✗ configuration: HISTORY_MAX_MB must be a number/m);
      assert.match(r.stdout, /^✗ R2: no HISTORY binding: wrangler\.toml \[\[r2_buckets\]\]/m);
      assert.match(r.stdout, /^✓ D1\b/m);
      assert.match(r.stdout, /to fix \(above\)/);
    } finally {
      other.stop();
      rmSync(config, { force: true });
    }
  });

  it("a Worker that does not answer: one line, exit 1", async () => {
    const r = await keyhookCli(["doctor"], { KEYHOOK_URL: "http://localhost:9", KEYHOOK_API_KEY: "x" });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^✗ reachable: /m);
  });
});

/** Another Keyhook (`wrangler dev` on its own port and state), with `extra` arguments. */
async function anotherKeyhook(port, extra = [], config = "wrangler.toml") {
  const state = mkdtempSync(join(tmpdir(), "keyhook-other-"));
  const wrangler = "node_modules/.bin/wrangler";
  spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state, "-c", config], {
    env: { ...process.env, CI: "true" },
  });
  const dev = spawn(wrangler, ["dev", "-c", config, "--port", String(port), "--persist-to", state, ...extra], {
    detached: true,
    stdio: "ignore",
  });
  const url = `http://localhost:${port}`;
  for (let i = 0; i < 120; i++) {
    if (
      await fetch(`${url}/health`).then(
        () => true,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 500));
  }
  return {
    url,
    stop: () => {
      try {
        process.kill(-dev.pid, "SIGTERM");
      } catch {}
      rmSync(state, { recursive: true, force: true });
    },
  };
}

describe("keyhook import svix", () => {
  it("from one Keyhook serving the Svix API into another: the receiver verifies with the secret made on the first; run again, nothing twice", async () => {
    const source = await anotherKeyhook(8797);
    try {
      const admin = devVar("ADMIN_TOKEN");
      const svix = async (base, method, path, body) => {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
          body: body && JSON.stringify(body),
        });
        return res.status === 204 ? null : res.json();
      };
      const secret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64")}`;
      const uid = `imp${Date.now()}`;
      await svix(source.url, "POST", "/api/v1/event-type", { name: "invoice.paid", description: "Paid" });
      await svix(source.url, "POST", "/api/v1/app", { name: "Imported Co", uid });
      await svix(source.url, "POST", `/api/v1/app/${uid}/endpoint`, {
        url: receiver.url,
        uid: "billing",
        secret,
        eventTypes: ["invoice.paid"],
        channels: ["eu"],
        headers: { "x-team": "billing" },
        metadata: { owner: "ops" },
      });
      const args = ["import", "svix", "--from", source.url, "--token", admin];
      const asOperator = { KEYHOOK_API_KEY: admin };

      const dry = await keyhookCli([...args, "--dry-run"], asOperator);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /would create endpoint billing of/);
      assert.equal((await svix(BASE, "GET", `/api/v1/app/${uid}`)).code, "not_found");

      const first = await keyhookCli(args, asOperator);
      assert.equal(first.code, 0, first.stdout + first.stderr);
      assert.match(first.stdout, /Applications: 1 created/);
      assert.match(first.stdout, /Endpoints: 1 created, 0 updated/);
      const imported = await svix(BASE, "GET", `/api/v1/app/${uid}/endpoint/billing`);
      assert.deepEqual(imported.channels, ["eu"]);
      assert.deepEqual(imported.eventTypes, ["invoice.paid"]);
      assert.deepEqual(imported.metadata, { owner: "ops" });
      assert.equal((await svix(BASE, "GET", `/api/v1/app/${uid}/endpoint/billing/secret`)).key, secret);

      const again = await keyhookCli(args, asOperator);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.match(again.stdout, /Applications: 0 created, 1 there already/);
      assert.match(again.stdout, /Endpoints: 0 created, 1 updated/);
      assert.equal((await svix(BASE, "GET", `/api/v1/app/${uid}/endpoint`)).data.length, 1);

      // A delivery from the second Keyhook, verified with the secret made on the first.
      const before = receiver.received.length;
      await svix(BASE, "POST", `/api/v1/app/${uid}/msg`, {
        eventType: "invoice.paid",
        payload: { invoice: "in_1" },
        channels: ["eu"],
      });
      for (let i = 0; i < 40 && receiver.received.length === before; i++) await new Promise((r) => setTimeout(r, 250));
      const got = receiver.received.at(-1);
      assert.ok(got && receiver.received.length > before, "delivered");
      assert.equal(got.headers["x-team"], "billing");
      const { "svix-id": id, "svix-timestamp": ts, "svix-signature": sig } = got.headers;
      new Webhook(secret).verify(got.body, { "svix-id": id, "svix-timestamp": ts, "svix-signature": sig });
      assert.deepEqual(JSON.parse(got.body), { invoice: "in_1" });
    } finally {
      source.stop();
    }
  });
});

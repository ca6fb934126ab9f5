// Fault injection against `wrangler dev` on persisted local state: receivers that fail on cue, and
// Keyhook itself killed mid-delivery and mid-archive and restarted on the same state. Prints the
// delivery table. The history moves to R2 as soon as an event is final (HISTORY_HOT_HOURS=0), so
// the event log and the delivery history are read across D1 and R2; the export is read by DuckDB.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { apiCall, BASE, devVar, startKeyhook } from "../browser/harness.mjs";

const ARGS = [
  "--test-scheduled",
  "--var",
  "WEBHOOK_RETRY_DELAYS:1,2,3,5,8,13",
  "--var",
  "WEBHOOK_TIMEOUT_MS:2000",
  "--var",
  "HISTORY_HOT_HOURS:0",
];
const EVENTS = 40;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * One receiver per behaviour; each records every request (webhook-id) and what it answered.
 * `behave(n, …)` gets how many times this webhook-id has arrived (1 = the first try) and how many
 * distinct ids came before it, so a fault hits each delivery a known number of times.
 */
function receiver(name, behave) {
  const seen = [];
  const tries = new Map();
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const id = req.headers["webhook-id"];
      const n = (tries.get(id) ?? 0) + 1;
      tries.set(id, n);
      const answer = behave(n, req, res, tries.size);
      seen.push({ id, n, status: answer ?? 200, at: Date.now() });
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        name,
        seen,
        server,
        url: `http://127.0.0.1:${server.address().port}/${name}`,
        port: server.address().port,
      }),
    ),
  );
}

/** Answers `status` with `body` and says what it answered. */
const answer = (res, status, body) => {
  res.statusCode = status;
  res.end(body);
  return status;
};
const ok = (_n, _req, res) => answer(res, 200, "ok");
const BEHAVIOURS = {
  steady: ok,
  // Every delivery fails twice with 500, then succeeds.
  "fails-500": (n, _req, res) => (n <= 2 ? answer(res, 500, "boom") : answer(res, 200, "ok")),
  // Every delivery first gets 503 with Retry-After: 2.
  "busy-503": (n, _req, res) => {
    if (n === 1) {
      res.statusCode = 503;
      res.setHeader("retry-after", "2");
      res.end("busy");
      return 503;
    }
    res.end("ok");
    return 200;
  },
  // The first try of the last 5 deliveries before the crash hangs past the 2 s timeout: Keyhook is
  // killed while those first attempts (sent by the publishing requests) wait for an answer.
  "hangs-first": (n, _req, res, distinct) => {
    if (n === 1 && distinct > EVENTS / 2 - 5 && distinct <= EVENTS / 2) {
      setTimeout(() => res.end("late"), 3500);
      return "timeout";
    }
    res.end("ok");
    return 200;
  },
  // The first try of the first 5 deliveries has its connection dropped.
  "drops-first": (n, req, res, distinct) => {
    if (n === 1 && distinct <= 5) {
      req.socket.destroy();
      return "dropped";
    }
    res.end("ok");
    return 200;
  },
};

let keyhook, receivers, gone, downUp, account, admin;
const published = [];

/** Every attempt of a webhook, page by page. */
async function allAttempts(webhookId) {
  const out = [];
  let cursor = null;
  do {
    const q = `limit=100${cursor ? `&cursor=${cursor}` : ""}`;
    const { status, body } = await apiCall("GET", `/v1/webhooks/${webhookId}/attempts?${q}`, {
      token: admin,
      accountId: account.id,
    });
    assert.equal(status, 200, JSON.stringify(body));
    out.push(...body.attempts);
    cursor = body.nextCursor;
  } while (cursor);
  return out;
}

/** The account's `order.paid` history through the export, one event per line. */
async function exported() {
  const res = await fetch(`${BASE}/v1/events/export?type=order.paid`, {
    headers: { authorization: `Bearer ${admin}`, "x-account-id": account.id },
  });
  assert.equal(res.status, 200);
  return res.text();
}

async function poke() {
  // `wrangler dev --test-scheduled`: run the every-minute cron now.
  await fetch(`${BASE}/__scheduled?cron=*+*+*+*+*`).catch(() => {});
}

before(async () => {
  keyhook = await startKeyhook(ARGS);
  admin = devVar("ADMIN_TOKEN");
  receivers = await Promise.all(Object.entries(BEHAVIOURS).map(([name, b]) => receiver(name, b)));
  gone = await receiver("gone-410", (_n, _req, res) => answer(res, 410, "gone"));
  downUp = await receiver("down-then-up", ok);
  downUp.server.close(); // down for a while: connection refused
});

after(() => {
  keyhook?.stop("SIGKILL");
  for (const r of [...(receivers ?? []), gone]) r?.server.close();
  downUp?.server.close();
});

describe("faults", () => {
  it("every published event reaches every subscribed webhook at least once, through receiver faults and a Keyhook crash", async () => {
    account = (await apiCall("POST", "/v1/accounts", { token: admin, body: { name: "Faults", plan: "enterprise" } }))
      .body.account;
    const op = { token: admin, accountId: account.id };
    const key = (await apiCall("POST", "/v1/api-keys", { ...op, body: { name: "faults key" } })).body;
    const hooks = {};
    for (const r of [...receivers, gone, downUp]) {
      const res = await apiCall("POST", "/v1/webhooks", { ...op, body: { url: r.url, events: ["order.paid"] } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      hooks[r.name] = res.body.webhook.id;
    }
    // Publish half, kill Keyhook while deliveries are in flight, restart on the same state, publish the rest.
    for (let i = 0; i < EVENTS / 2; i++) {
      const res = await apiCall("POST", "/v1/events", {
        apiKey: key.key,
        body: { type: "order.paid", entity: { n: i } },
      });
      assert.equal(res.status, 202);
      published.push(res.body.event.id);
    }
    await sleep(700);
    const killedAt = Date.now();
    keyhook.stop("SIGKILL");
    await keyhook.exited;
    await sleep(500);
    keyhook = await startKeyhook(ARGS);
    for (let i = EVENTS / 2; i < EVENTS; i++) {
      const res = await apiCall("POST", "/v1/events", {
        apiKey: key.key,
        body: { type: "order.paid", entity: { n: i } },
      });
      assert.equal(res.status, 202);
      published.push(res.body.event.id);
    }
    // The down receiver comes back after a while.
    await sleep(4000);
    await new Promise((r) => downUp.server.listen(downUp.port, "127.0.0.1", r));

    const expectedFor = [...receivers, downUp];
    const missing = () =>
      expectedFor.flatMap((r) =>
        published.filter((id) => !r.seen.some((s) => s.id === id && s.status === 200)).map((id) => `${r.name}:${id}`),
      );
    const until = Date.now() + 240_000;
    while (missing().length > 0 && Date.now() < until) {
      await poke();
      await sleep(3000);
    }

    // First attempts in flight when Keyhook was killed (sent, no answer yet: the hang outlasts the
    // 2 s timeout) were delivered later all the same, with the same webhook-id.
    const hangs = receivers.find((r) => r.name === "hangs-first");
    const cutShort = hangs.seen
      .filter((s) => s.n === 1 && s.status === "timeout" && s.at < killedAt && s.at > killedAt - 2000)
      .map((s) => s.id);
    console.log(`First attempts in flight at the crash: ${cutShort.length}`);
    assert.ok(cutShort.length >= 1, "the crash hit at least one first attempt in flight");
    for (const id of cutShort)
      assert.ok(
        hangs.seen.some((s) => s.id === id && s.status === 200 && s.at > killedAt),
        `${id} delivered after the crash`,
      );

    // The delivery history agrees with what the receivers saw (every page, D1 and R2 alike).
    const disagreements = [];
    for (const r of expectedFor) {
      const attempts = await allAttempts(hooks[r.name]);
      for (const a of attempts.filter((a) => a.succeeded)) {
        if (!r.seen.some((s) => s.id === a.requestHeaders["webhook-id"] && s.status === 200))
          disagreements.push(`${r.name}: ${a.id}`);
      }
    }
    // Nothing stored was lost across the crash.
    const webhooks = (await apiCall("GET", "/v1/webhooks?limit=100", { token: admin, accountId: account.id })).body
      .webhooks;
    const keys = (await apiCall("GET", "/v1/api-keys", { token: admin, accountId: account.id })).body.apiKeys;
    const goneHook = webhooks.find((w) => w.id === hooks["gone-410"]);

    const rows = expectedFor.map((r) => {
      const ids = r.seen.filter((s) => s.status === 200).map((s) => s.id);
      const distinct = new Set(ids.filter((id) => published.includes(id)));
      return {
        receiver: r.name,
        expected: published.length,
        delivered: distinct.size,
        duplicates: ids.length - distinct.size,
        requests: r.seen.length,
        lost: published.length - distinct.size,
      };
    });
    const total = rows.reduce(
      (t, r) => ({
        expected: t.expected + r.expected,
        delivered: t.delivered + r.delivered,
        duplicates: t.duplicates + r.duplicates,
        lost: t.lost + r.lost,
      }),
      { expected: 0, delivered: 0, duplicates: 0, lost: 0 },
    );
    console.log(`\nEvents published: ${published.length}; webhooks: ${expectedFor.length} (+1 answering 410)`);
    console.table([...rows, { receiver: "TOTAL", ...total }]);

    assert.deepEqual(missing(), [], "every event reached every subscribed webhook");
    assert.equal(total.lost, 0);
    assert.deepEqual(disagreements, [], "every succeeded attempt in the history was seen by its receiver");
    for (const r of expectedFor) {
      for (const s of r.seen) assert.ok(published.includes(s.id), `${r.name} got an unknown webhook-id ${s.id}`);
    }
    assert.equal(webhooks.length, Object.keys(hooks).length, "no webhook lost");
    assert.equal(keys.length, 1, "no key lost");
    assert.equal(goneHook.status, "disabled", "410 disabled its webhook");
    // Deliveries already in flight when the first 410 came back may still arrive; nothing after.
    const first410 = gone.seen[0].at;
    assert.ok(
      gone.seen.every((s) => s.at - first410 < 3000),
      "nothing was sent to the gone endpoint after its 410 took effect",
    );
    console.log(
      `410 endpoint: ${gone.seen.length} request(s), all within ${Math.max(...gone.seen.map((s) => s.at - first410))} ms of the first`,
    );
  });
  it("the history moves to R2 through crashes mid-archive: every event once in the log, the export read by DuckDB", async () => {
    const op = { token: admin, accountId: account.id };
    const key = (await apiCall("POST", "/v1/api-keys", { ...op, body: { name: "archive key" } })).body;
    // Rounds of: publish, let the deliveries finish, run the cron (which archives), kill Keyhook a
    // random few ms into it, restart on the same state.
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 5; i++) {
        const res = await apiCall("POST", "/v1/events", {
          apiKey: key.key,
          body: { type: "order.paid", entity: { round, i } },
        });
        assert.equal(res.status, 202);
        published.push(res.body.event.id);
      }
      await sleep(1500);
      void poke();
      await sleep(Math.floor(Math.random() * 120));
      keyhook.stop("SIGKILL");
      await keyhook.exited;
      keyhook = await startKeyhook(ARGS);
    }
    // Let every delivery end and every final event move.
    const log = async () =>
      (await exported())
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    const until = Date.now() + 180_000;
    let events = await log();
    const pending = (list) =>
      list.filter((e) => e.status === "pending" || e.deliveries.some((d) => d.status === "pending"));
    while (Date.now() < until && (events.length < published.length || pending(events).length > 0)) {
      await poke();
      await sleep(3000);
      events = await log();
    }
    await poke();
    await sleep(1000);
    const text = await exported();
    events = text
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const ids = events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, "no event twice in the history");
    assert.deepEqual([...ids].sort(), [...published].sort(), "every published event in the history, once");
    // The event log pages over the same events.
    const listed = [];
    let cursor = null;
    do {
      const q = `type=order.paid&limit=100${cursor ? `&cursor=${cursor}` : ""}`;
      const { body } = await apiCall("GET", `/v1/events?${q}`, op);
      listed.push(...body.events.map((e) => e.id));
      cursor = body.nextCursor;
    } while (cursor);
    assert.deepEqual(listed, ids, "the log and the export agree, newest first");

    // An engine nobody here wrote reads the export and counts the same.
    const file = join(tmpdir(), `keyhook-export-${process.pid}.ndjson`);
    writeFileSync(file, text);
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const duck = await (await DuckDBInstance.create(":memory:")).connect();
    const [counted] = (
      await duck.runAndReadAll(
        `SELECT count(*)::INTEGER AS events, count(DISTINCT id)::INTEGER AS distinct_ids,
           sum(len(deliveries))::INTEGER AS deliveries
         FROM read_json('${file}', format = 'newline_delimited')`,
      )
    ).getRowObjectsJson();
    console.log(`DuckDB read the export: ${JSON.stringify(counted)}`);
    assert.equal(counted.events, published.length);
    assert.equal(counted.distinct_ids, published.length);
    assert.equal(
      counted.deliveries,
      events.reduce((n, e) => n + e.deliveries.length, 0),
    );
  });
});

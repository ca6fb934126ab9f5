// The webhook pipeline benchmarks: saturated throughput (Keyhook beside the floor pipeline Worker),
// one endpoint hanging, and latency at fixed offered loads (open loop). Used by `npm run bench`.
import { createServer } from "node:http";
import { adminHeaders, KEYHOOK, sleep } from "./lib.mjs";

let nextPort = 9870;
let nextType = 0;

/**
 * A local receiver that records every arrival (webhook-id, webhook path, publish time, arrival
 * time) and answers 200 — except on `/hang/…`, which never answers (the sender's timeout ends it),
 * and `/fail1/…`, which answers the first try of each delivery with a 500.
 */
export async function receiver() {
  const port = nextPort++;
  const arrivals = [];
  const failedOnce = new Set();
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      if (req.url.startsWith("/hang/")) return; // left open
      const id = req.headers["webhook-id"];
      // `/fail1/…`: the first try of each delivery gets a 500, the next one succeeds.
      if (req.url.startsWith("/fail1/") && !failedOnce.has(`${req.url} ${id}`)) {
        failedOnce.add(`${req.url} ${id}`);
        res.statusCode = 500;
        return res.end("try again");
      }
      arrivals.push({
        id: req.headers["webhook-id"],
        hook: req.url,
        sentAt: JSON.parse(body).entity.sentAt,
        at: Date.now(),
      });
      res.end("ok");
    });
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  return { port, arrivals, close: () => server.closeAllConnections?.() ?? server.close() };
}

/**
 * `count` webhooks in the account (made through Keyhook's API, so a copy of its state has them too),
 * subscribed to a type of their own, on a new receiver; with `hanging`, the last one never answers.
 */
export async function webhooks(accountId, { count = 5, hanging = false, failOnce = false, base = KEYHOOK } = {}) {
  const rx = await receiver();
  const type = `bench.run${nextType++}`;
  const paths = [];
  const ids = [];
  for (let i = 0; i < count; i++) {
    const path = hanging && i === count - 1 ? `/hang/h${i}` : failOnce ? `/fail1/h${i}` : `/ok/h${i}`;
    const res = await fetch(`${base}/v1/webhooks`, {
      method: "POST",
      headers: { ...adminHeaders(), "x-account-id": accountId },
      body: JSON.stringify({ url: `http://127.0.0.1:${rx.port}${path}`, events: [type] }),
    });
    if (res.status !== 201) throw new Error(`creating a bench webhook failed: ${await res.text()}`);
    paths.push(path);
    ids.push((await res.json()).webhook.id);
  }
  /** Stops the receiver and deletes the webhooks (an account holds at most 20). */
  const close = async () => {
    rx.close();
    for (const id of ids) {
      await fetch(`${base}/v1/webhooks/${id}`, {
        method: "DELETE",
        headers: { ...adminHeaders(), "x-account-id": accountId },
      });
    }
  };
  return { rx, type, paths, ids, close };
}

const publish = (base, key, type) =>
  fetch(`${base}/v1/events`, {
    method: "POST",
    headers: { "x-api-key": key, "content-type": "application/json" },
    body: JSON.stringify({ type, entity: { sentAt: Date.now() } }),
  }).then(async (r) => {
    if (r.status !== 202) throw new Error(`publish answered ${r.status}: ${await r.text()}`);
  });

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Unique arrivals (by webhook and webhook-id) at the given paths, and the duplicates among them. */
function tally(rx, paths) {
  const unique = new Map();
  let all = 0;
  for (const a of rx.arrivals) {
    if (!paths.includes(a.hook)) continue;
    all++;
    const k = `${a.hook} ${a.id}`;
    if (!unique.has(k)) unique.set(k, a);
  }
  return { unique: [...unique.values()], duplicates: all - unique.size };
}

/**
 * Saturated: `events` events published by 16 publishers as fast as the answers come back, each to
 * every webhook of `setup`; waits until each healthy webhook has every event (or 3 minutes).
 * Deliveries/s = delivered to the healthy webhooks ÷ (last arrival − first publish).
 */
export async function saturated(base, key, setup, { events = 300, label = "webhook pipeline" } = {}) {
  const healthy = setup.paths.filter((p) => !p.startsWith("/hang/"));
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < events) {
        next++;
        await publish(base, key, setup.type);
      }
    }),
  );
  const published = Date.now();
  const expected = events * healthy.length;
  const deadline = Date.now() + 180_000;
  while (tally(setup.rx, healthy).unique.length < expected && Date.now() < deadline) await sleep(100);
  await sleep(1000); // late duplicates, if any
  const { unique, duplicates } = tally(setup.rx, healthy);
  const latencies = unique.map((a) => a.at - a.sentAt).sort((a, b) => a - b);
  const last = Math.max(...unique.map((a) => a.at));
  // The first four webhooks alone: what the slow-endpoint comparison sets side by side.
  const four = tally(setup.rx, setup.paths.slice(0, 4)).unique;
  const fourLast = Math.max(...four.map((a) => a.at));
  const out = {
    scenario: label,
    events,
    webhooks: setup.paths.length,
    healthyWebhooks: healthy.length,
    expected,
    delivered: unique.length,
    lost: expected - unique.length,
    duplicates,
    publishesPerSecond: Math.round(events / ((published - started) / 1000)),
    deliveriesPerSecond: Math.round(unique.length / ((last - started) / 1000)),
    firstFourPerSecond: Math.round(four.length / ((fourLast - started) / 1000)),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
  console.log(JSON.stringify(out));
  return out;
}

/**
 * Open loop: events published on a clock — `rate` deliveries/s offered, i.e. rate ÷ webhooks events
 * per second — for `seconds`, whatever the answers do; then waits up to 30 s for the last arrivals.
 * Latency is publish → receipt at the receiver.
 */
export async function openLoop(base, key, setup, { rate, seconds = 8 }) {
  const eventsPerSecond = rate / setup.paths.length;
  const total = Math.round(eventsPerSecond * seconds);
  const from = setup.rx.arrivals.length;
  const started = Date.now();
  const sends = [];
  let failed = 0;
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / eventsPerSecond;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    sends.push(publish(base, key, setup.type).catch(() => failed++));
  }
  await Promise.all(sends);
  const expected = total * setup.paths.length;
  const mine = () => setup.rx.arrivals.slice(from);
  const deadline = Date.now() + 30_000;
  while (new Set(mine().map((a) => `${a.hook} ${a.id}`)).size < expected && Date.now() < deadline) await sleep(100);
  const unique = new Map(mine().map((a) => [`${a.hook} ${a.id}`, a]));
  const latencies = [...unique.values()].map((a) => a.at - a.sentAt).sort((a, b) => a - b);
  const out = {
    offeredDeliveriesPerSecond: rate,
    events: total,
    expected,
    delivered: unique.size,
    lost: expected - unique.size,
    publishErrors: failed,
    p50: percentile(latencies, 50) ?? null,
    p99: percentile(latencies, 99) ?? null,
  };
  console.log(JSON.stringify(out));
  return out;
}

/**
 * The pipeline floor, on Keyhook's tables: what delivering signed webhooks costs at least on D1,
 * a Queue and Web Crypto. Publish: hash the API key and find it (1 indexed read), the account's
 * webhooks (kept in memory after the first read), the event and its deliveries in one D1 batch,
 * one `sendBatch`. Consumer: the whole queue batch loaded in one query, each delivery signed and
 * POSTed at once, every outcome (the delivery's state and its attempt) recorded in one D1 batch.
 * Nothing else: no claim, no retries, no history cap, no health, no validation.
 *
 * With `FIRST_ATTEMPT=inline` the publishing request delivers instead (no queue): it loads, signs,
 * POSTs and records its own event's deliveries in `waitUntil` — the same minimum, shaped as
 * Keyhook's first attempt is.
 */
interface Env {
  DB: D1Database;
  DELIVERIES: Queue;
  WEBHOOK_SECRET_KEY: string;
  FIRST_ATTEMPT?: string;
}

type Target = { id: string; url: string; secret: string; events: string };
const webhooksOf = new Map<string, Target[]>();
const keys = new Map<string, Promise<CryptoKey>>();
const enc = new TextEncoder();
const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const hex = (buf: ArrayBuffer) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
const id = (prefix: string) =>
  `${prefix}_${Date.now().toString(36)}${crypto.randomUUID().replaceAll("-", "").slice(0, 14)}`;

/** The signing key of a stored secret: AES-GCM open (Keyhook's format), then an HMAC key; once per isolate. */
function signingKey(env: Env, webhookId: string, sealed: string): Promise<CryptoKey> {
  let key = keys.get(sealed);
  if (!key) {
    key = (async () => {
      const material = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(env.WEBHOOK_SECRET_KEY)));
      const raw = unb64(env.WEBHOOK_SECRET_KEY);
      const aes = await crypto.subtle.importKey("raw", raw.length === 32 ? raw : material, "AES-GCM", false, [
        "decrypt",
      ]);
      const [iv, ct] = sealed.split(".") as [string, string];
      const secret = new TextDecoder().decode(
        await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: unb64(iv), additionalData: enc.encode(webhookId) },
          aes,
          unb64(ct),
        ),
      );
      return crypto.subtle.importKey("raw", unb64(secret.slice(6)), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    })();
    keys.set(sealed, key);
  }
  return key;
}

const INSERT_DELIVERIES = `INSERT INTO deliveries (id, account_id, event_id, webhook_id, status, attempts, next_attempt_at, is_test, created_at, updated_at)
  SELECT value ->> '$.id', ?2, ?3, value ->> '$.webhookId', 'pending', 0, ?4, 0, ?4, ?4 FROM json_each(?1)`;
const LOAD = `SELECT d.id AS d_id, d.account_id AS d_account_id, e.id AS e_id, e.type AS e_type, e.entity AS e_entity,
    e.created_at AS e_created_at, w.id AS w_id, w.url AS w_url, w.secret AS w_secret
  FROM deliveries d JOIN events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id
  WHERE d.id IN (SELECT value FROM json_each(?1))`;
const UPDATE_DELIVERIES = `UPDATE deliveries SET status = v.status, attempts = 1, next_attempt_at = NULL, last_attempt_at = v.at, updated_at = v.at
  FROM (SELECT value ->> '$.id' AS id, value ->> '$.status' AS status, value ->> '$.at' AS at FROM json_each(?1)) AS v
  WHERE deliveries.id = v.id`;
const INSERT_ATTEMPTS = `INSERT INTO attempts (id, account_id, webhook_id, delivery_id, event_id, event_type, attempt, url,
    request_headers, response_status, response_body, duration_ms, failure_reason, succeeded, created_at)
  SELECT value ->> '$.id', value ->> '$.accountId', value ->> '$.webhookId', value ->> '$.deliveryId', value ->> '$.eventId',
    value ->> '$.eventType', 1, value ->> '$.url', value ->> '$.headers', value ->> '$.status', value ->> '$.body',
    value ->> '$.ms', value ->> '$.failure', value ->> '$.ok', value ->> '$.at'
  FROM json_each(?1)`;

export default {
  async fetch(req: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const digest = await crypto.subtle.digest("SHA-256", enc.encode(req.headers.get("x-api-key") ?? ""));
    const key = await env.DB.prepare("SELECT id, account_id FROM api_keys WHERE hash = ?")
      .bind(hex(digest))
      .first<{ account_id: string }>();
    if (!key) return Response.json({ error: "invalid" }, { status: 401 });
    const { type, entity } = (await req.json()) as { type: string; entity: unknown };
    let targets = webhooksOf.get(key.account_id);
    if (!targets) {
      const rows = await env.DB.prepare(
        "SELECT id, url, secret, events FROM webhooks WHERE account_id = ? AND status = 'active'",
      )
        .bind(key.account_id)
        .all<Target>();
      targets = rows.results;
      webhooksOf.set(key.account_id, targets);
    }
    const matching = targets.filter((w) => w.events.includes(`"${type}"`) || w.events === '["*"]');
    const now = Date.now();
    const event = { id: id("evt"), type };
    const deliveries = matching.map((w) => ({ id: id("dlv"), webhookId: w.id }));
    await env.DB.batch([
      env.DB.prepare("INSERT INTO events (id, account_id, type, entity, created_at) VALUES (?, ?, ?, ?, ?)").bind(
        event.id,
        key.account_id,
        type,
        JSON.stringify(entity),
        now,
      ),
      env.DB.prepare(INSERT_DELIVERIES).bind(JSON.stringify(deliveries), key.account_id, event.id, now),
    ]);
    if (env.FIRST_ATTEMPT === "inline") {
      const byId = new Map(matching.map((w) => [w.id, w]));
      const rows = deliveries.map((d) => {
        const w = byId.get(d.webhookId)!;
        return {
          d_id: d.id,
          d_account_id: key.account_id,
          e_id: event.id,
          e_type: type,
          e_entity: JSON.stringify(entity),
          e_created_at: now,
          w_id: w.id,
          w_url: w.url,
          w_secret: w.secret,
        };
      });
      ctx.waitUntil(send(env, rows));
    } else if (deliveries.length > 0)
      await env.DELIVERIES.sendBatch(deliveries.map((d) => ({ body: { deliveryId: d.id } })));
    return Response.json({ event, deliveries }, { status: 202 });
  },

  async queue(batch: MessageBatch<{ deliveryId: string }>, env: Env): Promise<void> {
    await deliver(
      env,
      batch.messages.map((m) => m.body.deliveryId),
    );
    batch.ackAll();
  },
};

/** Loads the deliveries (one query), then sends them. */
async function deliver(env: Env, ids: string[]) {
  const { results } = await env.DB.prepare(LOAD).bind(JSON.stringify(ids)).all<Record<string, string | number>>();
  await send(env, results);
}

/** Signs and POSTs every delivery at once, then records every outcome (one batch). */
async function send(env: Env, rows: Record<string, string | number>[]) {
  const outcomes = await Promise.all(
    rows.map(async (r) => {
      const createdAt = Number(r.e_created_at);
      const body = `{"id":"${r.e_id}","event":"${r.e_type}","accountId":"${r.d_account_id}","occurredAt":"${new Date(createdAt).toISOString()}","entity":${r.e_entity}}`;
      const ts = Math.floor(Date.now() / 1000);
      const mac = await crypto.subtle.sign(
        "HMAC",
        await signingKey(env, String(r.w_id), String(r.w_secret)),
        enc.encode(`${r.e_id}.${ts}.${body}`),
      );
      const headers = {
        "content-type": "application/json",
        "webhook-id": String(r.e_id),
        "webhook-timestamp": String(ts),
        "webhook-signature": `v1,${b64(new Uint8Array(mac))}`,
      };
      const started = Date.now();
      let status: number | null = null;
      let text: string | null = null;
      try {
        const res = await fetch(String(r.w_url), {
          method: "POST",
          headers,
          body,
          redirect: "manual",
          signal: AbortSignal.timeout(15_000),
        });
        status = res.status;
        text = (await res.text()).slice(0, 4096);
      } catch {}
      const ok = status !== null && status >= 200 && status < 300;
      const at = Date.now();
      return {
        delivery: { id: r.d_id, status: ok ? "succeeded" : "failed", at },
        attempt: {
          id: id("att"),
          accountId: r.d_account_id,
          webhookId: r.w_id,
          deliveryId: r.d_id,
          eventId: r.e_id,
          eventType: r.e_type,
          url: r.w_url,
          headers: JSON.stringify(headers),
          status,
          body: text,
          ms: at - started,
          failure: ok ? null : "failed",
          ok,
          at,
        },
      };
    }),
  );
  await env.DB.batch([
    env.DB.prepare(UPDATE_DELIVERIES).bind(JSON.stringify(outcomes.map((o) => o.delivery))),
    env.DB.prepare(INSERT_ATTEMPTS).bind(JSON.stringify(outcomes.map((o) => o.attempt))),
  ]);
}

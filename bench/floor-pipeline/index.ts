/**
 * The pipeline floor, on Keyhook's tables: what delivering signed webhooks costs at least on D1,
 * a Queue and Web Crypto. Publish: hash the API key and find it (1 indexed read), the account's
 * webhooks (kept in memory after the first read), the event with its deliveries in one row (one
 * D1 write), one `sendBatch`. Consumer: the whole queue batch loaded in one query, each delivery
 * signed and POSTed at once, every outcome (the deliveries' states and their attempts) written back
 * into their event's row, one statement per event in one D1 batch. Nothing else: no claim, no
 * retries, no guards, no packing, no health, no validation.
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

/** A floor delivery's id names its event and its index there: `<event id>:<index>`. */
const deliveryRef = (eventId: string, index: number) => `${eventId}:${index}`;
const LOAD = `SELECT e.id AS e_id, e.account_id AS e_account_id, e.type AS e_type, e.entity AS e_entity,
    e.created_at AS e_created_at, e.deliveries AS e_deliveries
  FROM events e WHERE e.id IN (SELECT value FROM json_each(?1))`;
const WEBHOOKS = "SELECT id, url, secret FROM webhooks WHERE id IN (SELECT value FROM json_each(?1))";
/** The event's deliveries and attempts as they are now (no guard: the floor races with nothing). */
const RECORD = "UPDATE events SET deliveries = ?2, attempts = ?3, due_at = NULL WHERE id = ?1";

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
    const deliveries = matching.map((w, i) => ({ id: deliveryRef(event.id, i), webhookId: w.id }));
    const stored = matching.map((w) => ({ w: w.id, s: "pending", n: 0 }));
    await env.DB.prepare(
      "INSERT INTO events (id, account_id, type, entity, created_at, deliveries, due_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
      .bind(event.id, key.account_id, type, JSON.stringify(entity), now, JSON.stringify(stored), now + 30_000)
      .run();
    if (env.FIRST_ATTEMPT === "inline") {
      const row = {
        e_id: event.id,
        e_account_id: key.account_id,
        e_type: type,
        e_entity: JSON.stringify(entity),
        e_created_at: now,
        e_deliveries: JSON.stringify(stored),
      };
      ctx.waitUntil(send(env, [row], new Map(matching.map((w) => [w.id, w]))));
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

/** Loads the deliveries' events and webhooks (one batch), then sends them. */
async function deliver(env: Env, ids: string[]) {
  const eventIds = [...new Set(ids.map((d) => d.slice(0, d.lastIndexOf(":"))))];
  const [events] = await env.DB.batch<Record<string, string | number>>([
    env.DB.prepare(LOAD).bind(JSON.stringify(eventIds)),
  ]);
  const rows = events?.results ?? [];
  const webhookIds = rows.flatMap((r) => (JSON.parse(String(r.e_deliveries)) as { w: string }[]).map((d) => d.w));
  const { results } = await env.DB.prepare(WEBHOOKS).bind(JSON.stringify(webhookIds)).all<Target>();
  await send(env, rows, new Map(results.map((w) => [w.id, w])));
}

/** Signs and POSTs every delivery of these events at once, then records every event's outcomes (one batch). */
async function send(
  env: Env,
  rows: Record<string, string | number>[],
  webhooks: Map<string, Pick<Target, "url" | "secret">>,
) {
  const written = await Promise.all(
    rows.map(async (r) => {
      const createdAt = Number(r.e_created_at);
      const deliveries = JSON.parse(String(r.e_deliveries)) as { w: string; s: string; n: number; l?: number }[];
      const body = `{"id":"${r.e_id}","event":"${r.e_type}","accountId":"${r.e_account_id}","occurredAt":"${new Date(createdAt).toISOString()}","entity":${r.e_entity}}`;
      const attempts = await Promise.all(
        deliveries.map(async (d, index) => {
          const w = webhooks.get(d.w);
          if (!w) return null;
          const ts = Math.floor(Date.now() / 1000);
          const mac = await crypto.subtle.sign(
            "HMAC",
            await signingKey(env, d.w, w.secret),
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
            const res = await fetch(w.url, {
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
          d.s = ok ? "succeeded" : "failed";
          d.n = 1;
          d.l = at - createdAt;
          return {
            i: id("att"),
            d: index,
            a: 1,
            u: w.url,
            h: headers,
            s: status,
            o: text,
            m: at - started,
            k: ok ? 1 : 0,
            t: at - createdAt,
          };
        }),
      );
      return env.DB.prepare(RECORD).bind(
        String(r.e_id),
        JSON.stringify(deliveries),
        JSON.stringify(attempts.filter(Boolean)),
      );
    }),
  );
  if (written.length > 0) await env.DB.batch(written);
}

import type { OpenAPIHono } from "@hono/zod-openapi";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ZodError, ZodType, z } from "zod";
import type { AppEnv } from "../../http/context";
import { auditOf, authenticate, callerOf, requireOperator } from "../../http/middleware/auth";
import { ApiError, errorStatus } from "../../lib/errors";
import { insertAudit } from "../audit/audit.repo";
import { auditRow } from "../audit/audit.service";
import { PublishBody } from "../events/events.schemas";
import { parseDeliveryId } from "../history/stored-event";
import { CreateWebhookBody, UpdateWebhookBody } from "../webhooks/webhooks.schemas";
import { createSvixCatalog } from "./catalog";
import { createIdempotency } from "./idempotency";
import * as m from "./svix.models";

/**
 * Svix's API under `/api/v1` (docs/svix.md): the official `svix` client (and Svix's own test
 * suites, with `SVIX_SERVER_URL`) run against it unchanged. An adapter over Keyhook's services —
 * the same accounts, webhooks, events and history as `/v1` — speaking Svix's paths, shapes,
 * statuses and errors: `{code, detail}`, and 422 `{detail: [{loc, msg, type}]}` for validation.
 * The Svix token is the operator's.
 */
type C = Context<AppEnv>;

/** An answer in Svix's error shape. */
class SvixError extends Error {
  constructor(
    readonly status: 401 | 403 | 404 | 409 | 413 | 422 | 500,
    readonly body: unknown,
  ) {
    super("svix error");
  }
}

/** Keyhook's field names, as Svix calls them. */
const SVIX_FIELD: Record<string, string> = {
  events: "eventTypes",
  throttle: "throttleRate",
  type: "eventType",
  entity: "payload",
  externalId: "uid",
};

const invalid = (issues: { path: PropertyKey[]; message: string; code?: string }[]) =>
  new SvixError(422, {
    detail: issues.map((i) => ({
      loc: ["body", ...i.path.map((p) => (typeof p === "string" ? (SVIX_FIELD[p] ?? p) : String(p)))],
      msg: i.message,
      type: i.code === "invalid_type" ? "type_error" : "value_error",
    })),
  });

async function body<S extends ZodType>(c: C, schema: S): Promise<z.infer<S>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw invalid([{ path: [], message: "the body is not valid JSON" }]);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw invalid((parsed.error as ZodError).issues);
  return parsed.data;
}

/** Keyhook's own rules on the translated input (a URL, a secret, a header): refused as Svix refuses. */
function keyhookChecked<S extends ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalid((parsed.error as ZodError).issues);
  return parsed.data;
}

const limitOf = (c: C) => Math.min(250, Math.max(1, Number(c.req.query("limit") ?? 50) || 50));
const withContent = (c: C) => c.req.query("with_content") !== "false";

/** `{app_id}`: an account's id, or its `uid` (the account's external id). */
async function account(c: C, idOrUid = c.req.param("app") ?? "") {
  const { accounts } = c.var.services;
  if (idOrUid.startsWith("acc_")) {
    const found = await accounts.find(idOrUid);
    if (found && found.deletedAt === null) return accounts.get(idOrUid);
  }
  const byUid = await accounts.list(1, undefined, idOrUid);
  const hit = byUid.accounts[0];
  if (!hit) throw new ApiError("not_found", "Application not found");
  return hit;
}

/** The caller acting in `{app_id}`'s account (the operator, for that account). */
async function inApp(c: C) {
  const app = await account(c);
  c.set("accountId", app.id);
  return { app, caller: callerOf(c) };
}

/** `{endpoint_id}`: a webhook's id, or its `uid`, in `{app_id}`'s account. */
async function endpoint(c: C) {
  const { caller } = await inApp(c);
  return { caller, id: await c.var.services.webhooks.idOf(caller, c.req.param("ep") ?? "") };
}

function webhookInput(e: z.infer<typeof m.EndpointIn>) {
  return {
    url: e.url,
    events: e.eventTypes && e.eventTypes.length > 0 ? e.eventTypes : ["*"],
    ...(e.secret ? { secret: e.secret } : {}),
    ...(e.description ? { description: e.description } : {}),
    ...(e.headers && Object.keys(e.headers).length > 0 ? { headers: e.headers } : {}),
    ...(e.throttleRate ? { throttle: e.throttleRate } : {}),
    ...(e.uid ? { uid: e.uid } : {}),
    ...(e.channels && e.channels.length > 0 ? { channels: e.channels } : {}),
    ...(e.metadata ? { metadata: e.metadata } : {}),
    deliveryFormat: "raw" as const,
  };
}

async function createEndpoint(c: C, input: z.infer<typeof m.EndpointIn>) {
  const { caller } = await inApp(c);
  const { webhooks } = c.var.services;
  const created = await webhooks.create(caller, keyhookChecked(CreateWebhookBody, webhookInput(input)));
  if (!input.disabled) return created.webhook;
  return webhooks.update(caller, created.webhook.id, { status: "disabled" });
}

export function mountSvix(app: OpenAPIHono<AppEnv>) {
  const api = new Hono<AppEnv>({ strict: false });
  api.use(
    "*",
    bodyLimit({
      maxSize: 1024 * 1024,
      onError: () => {
        throw new SvixError(413, { code: "payload_too_large", detail: "The body is larger than 1 MiB" });
      },
    }),
  );
  api.get("/health", (c) => c.body(null, 204));
  api.use("*", authenticate, requireOperator);
  // A POST's idempotency-key: a retry gets the first answer (a message's is its event's own key).
  api.use("*", async (c, next) => {
    const header = c.req.header("idempotency-key");
    if (c.req.method !== "POST" || !header || /^\/api\/v1\/app\/[^/]+\/msg\/?$/.test(c.req.path)) return next();
    const { db, now } = c.var.services.platform;
    const idempotency = createIdempotency(db, now);
    const key = `${c.var.principal.type}:${c.var.principal.id}:${header}`;
    const claim = await idempotency.claim(key, `POST ${c.req.path}`);
    if (claim.kind === "replay") {
      const replayed = { "idempotent-replayed": "true" };
      if (claim.status === 204 || claim.body === null) return c.body(null, 204, replayed);
      return c.body(claim.body, claim.status as 200, { ...replayed, "content-type": "application/json" });
    }
    if (claim.kind === "busy") {
      throw new SvixError(409, { code: "conflict", detail: "A request with this idempotency-key is still running" });
    }
    if (claim.kind === "mismatch") {
      throw invalid([{ path: [], message: "this idempotency-key was used for another request" }]);
    }
    await next();
    const status = c.res.status;
    await idempotency.settle(key, status, status === 204 ? "" : await c.res.clone().text());
  });

  // Applications: accounts.
  api.post("/app", async (c) => {
    const input = await body(c, m.ApplicationIn);
    const { accounts } = c.var.services;
    if (c.req.query("get_if_exists") === "true" && input.uid) {
      const existing = (await accounts.list(1, undefined, input.uid)).accounts[0];
      if (existing) return c.json(m.applicationOut(existing), 200);
    }
    const created = await accounts.create(auditOf(c), {
      name: input.name,
      plan: "pro",
      ...(input.uid ? { externalId: input.uid } : {}),
    });
    return c.json(m.applicationOut(created), 201);
  });
  api.get("/app", async (c) => {
    const { accounts, nextCursor } = await c.var.services.accounts.list(limitOf(c), c.req.query("iterator"));
    return c.json(m.listOut(accounts.map(m.applicationOut), nextCursor), 200);
  });
  api.get("/app/:app", async (c) => c.json(m.applicationOut(await account(c)), 200));
  api.put("/app/:app", async (c) => {
    const input = await body(c, m.ApplicationIn);
    const { accounts } = c.var.services;
    const existing = await account(c).catch((err) => {
      if (err instanceof ApiError && err.code === "not_found") return null;
      throw err;
    });
    if (!existing) {
      const uid = input.uid ?? c.req.param("app");
      const created = await accounts.create(auditOf(c), { name: input.name, plan: "pro", externalId: uid });
      return c.json(m.applicationOut(created), 201);
    }
    const updated = await accounts.update(auditOf(c), existing.id, {
      name: input.name,
      externalId: input.uid ?? null,
    });
    return c.json(m.applicationOut(updated), 200);
  });
  api.patch("/app/:app", async (c) => {
    const input = await body(c, m.ApplicationPatch);
    const existing = await account(c);
    const updated = await c.var.services.accounts.update(auditOf(c), existing.id, {
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.uid !== undefined ? { externalId: input.uid } : {}),
    });
    return c.json(m.applicationOut(updated), 200);
  });
  api.delete("/app/:app", async (c) => {
    const existing = await account(c);
    await c.var.services.accounts.remove(auditOf(c), existing.id);
    return c.body(null, 204);
  });

  // Event types: the deployment's catalog.
  const catalog = (c: C) => createSvixCatalog(c.var.services.platform, auditOf(c));
  api.get("/event-type", async (c) => {
    const { rows, more } = await catalog(c).list({
      includeArchived: c.req.query("include_archived") === "true",
      limit: limitOf(c),
      after: c.req.query("iterator"),
    });
    const data = rows.map((r) => m.eventTypeOut(r, withContent(c)));
    return c.json(m.listOut(data, more ? (rows.at(-1)?.name ?? null) : null), 200);
  });
  api.post("/event-type", async (c) => {
    const { name, ...input } = await body(c, m.EventTypeIn);
    return c.json(m.eventTypeOut(await catalog(c).create(name, input)), 201);
  });
  api.get("/event-type/:name", async (c) => c.json(m.eventTypeOut(await catalog(c).get(c.req.param("name"))), 200));
  api.put("/event-type/:name", async (c) => {
    const { name: _ignored, ...input } = await body(c, m.EventTypeIn.partial({ name: true }));
    const { row, created } = await catalog(c).upsert(c.req.param("name"), input);
    return c.json(m.eventTypeOut(row), created ? 201 : 200);
  });
  api.patch("/event-type/:name", async (c) => {
    const input = await body(c, m.EventTypePatch);
    return c.json(m.eventTypeOut(await catalog(c).patch(c.req.param("name"), input)), 200);
  });
  api.delete("/event-type/:name", async (c) => {
    await catalog(c).remove(c.req.param("name"), c.req.query("expunge") === "true");
    return c.body(null, 204);
  });

  // Endpoints: webhooks.
  api.post("/app/:app/endpoint", async (c) => {
    const input = await body(c, m.EndpointIn);
    return c.json(m.endpointOut(await createEndpoint(c, input)), 201);
  });
  api.get("/app/:app/endpoint", async (c) => {
    const { caller } = await inApp(c);
    const { webhooks, nextCursor } = await c.var.services.webhooks.list(caller, limitOf(c), c.req.query("iterator"));
    return c.json(m.listOut(webhooks.map(m.endpointOut), nextCursor), 200);
  });
  api.get("/app/:app/endpoint/:ep", async (c) => {
    const { caller, id } = await endpoint(c);
    return c.json(m.endpointOut(await c.var.services.webhooks.get(caller, id)), 200);
  });
  api.put("/app/:app/endpoint/:ep", async (c) => {
    const input = await body(c, m.EndpointIn);
    const { caller } = await inApp(c);
    const { webhooks } = c.var.services;
    const ep = c.req.param("ep");
    const id = await webhooks.idOf(caller, ep).catch((err) => {
      if (err instanceof ApiError && err.code === "not_found") return null;
      throw err;
    });
    if (!id) {
      const uid = input.uid ?? (ep.startsWith("wh_") ? undefined : ep);
      return c.json(m.endpointOut(await createEndpoint(c, { ...input, ...(uid ? { uid } : {}) })), 201);
    }
    const change = keyhookChecked(UpdateWebhookBody, {
      url: input.url,
      description: input.description ?? null,
      status: input.disabled ? "disabled" : "active",
      events: input.eventTypes && input.eventTypes.length > 0 ? input.eventTypes : ["*"],
      throttle: input.throttleRate ?? null,
      ...(input.uid !== undefined ? { uid: input.uid } : {}),
      channels: input.channels && input.channels.length > 0 ? input.channels : null,
      ...(input.metadata ? { metadata: input.metadata } : {}),
    });
    return c.json(m.endpointOut(await webhooks.update(caller, id, change)), 200);
  });
  api.patch("/app/:app/endpoint/:ep", async (c) => {
    const input = await body(c, m.EndpointPatch);
    const { caller, id } = await endpoint(c);
    const change = keyhookChecked(UpdateWebhookBody, {
      ...(input.url !== undefined ? { url: input.url } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.disabled !== undefined ? { status: input.disabled ? "disabled" : "active" } : {}),
      ...(input.eventTypes !== undefined
        ? { events: input.eventTypes && input.eventTypes.length > 0 ? input.eventTypes : ["*"] }
        : {}),
      ...(input.throttleRate !== undefined ? { throttle: input.throttleRate } : {}),
      ...(input.uid !== undefined ? { uid: input.uid } : {}),
      ...(input.channels !== undefined ? { channels: input.channels } : {}),
      ...(input.metadata !== undefined ? { metadata: input.metadata ?? {} } : {}),
    });
    return c.json(m.endpointOut(await c.var.services.webhooks.update(caller, id, change)), 200);
  });
  api.delete("/app/:app/endpoint/:ep", async (c) => {
    const { caller, id } = await endpoint(c);
    await c.var.services.webhooks.remove(caller, id);
    return c.body(null, 204);
  });
  api.get("/app/:app/endpoint/:ep/secret", async (c) => {
    const { caller, id } = await endpoint(c);
    return c.json({ key: await c.var.services.webhooks.secret(caller, id) }, 200);
  });
  api.post("/app/:app/endpoint/:ep/secret/rotate", async (c) => {
    const input = await body(c, m.RotateIn);
    const { caller, id } = await endpoint(c);
    await c.var.services.webhooks.rotateSecret(caller, id, {
      ...(input.key ? { secret: input.key } : {}),
      ...(input.gracePeriodSeconds != null ? { overlapSeconds: input.gracePeriodSeconds } : {}),
    });
    return c.body(null, 204);
  });

  // An endpoint's headers, recovery and replay.
  api.get("/app/:app/endpoint/:ep/headers", async (c) => {
    const { caller, id } = await endpoint(c);
    return c.json({ headers: await c.var.services.webhooks.headers(caller, id), sensitive: [] }, 200);
  });
  const setHeaders = async (c: C, merge: boolean) => {
    const input = await body(c, m.HeadersIn);
    const { caller, id } = await endpoint(c);
    const { webhooks } = c.var.services;
    const headers = merge ? { ...(await webhooks.headers(caller, id)), ...input.headers } : input.headers;
    for (const gone of input.deleteHeaders ?? []) delete headers[gone];
    await webhooks.update(caller, id, keyhookChecked(UpdateWebhookBody, { headers }));
    return c.body(null, 204);
  };
  api.put("/app/:app/endpoint/:ep/headers", (c) => setHeaders(c, false));
  api.patch("/app/:app/endpoint/:ep/headers", (c) => setHeaders(c, true));
  api.post("/app/:app/endpoint/:ep/recover", async (c) => {
    const input = await body(c, m.RangeIn);
    const { caller, id } = await endpoint(c);
    await c.var.services.deliveries.recover(caller, id, input.since);
    return c.json(m.taskOut("endpoint.recover", c.var.services.platform.now()), 202);
  });
  api.post("/app/:app/endpoint/:ep/replay-missing", async (c) => {
    const input = await body(c, m.RangeIn);
    const { caller, id } = await endpoint(c);
    await c.var.services.deliveries.replay(caller, id, {
      since: input.since,
      ...(input.until ? { until: input.until } : {}),
    });
    return c.json(m.taskOut("endpoint.replay", c.var.services.platform.now()), 202);
  });
  api.get("/app/:app/attempt/endpoint/:ep", async (c) => {
    const { caller, id } = await endpoint(c);
    const status = c.req.query("status");
    const { attempts, nextCursor } = await c.var.services.deliveries.attempts(caller, id, {
      limit: limitOf(c),
      ...(c.req.query("iterator") ? { cursor: c.req.query("iterator") } : {}),
      ...(status === "0" ? { status: "succeeded" as const } : status === "2" ? { status: "failed" as const } : {}),
      ...(c.req.query("after") ? { since: c.req.query("after") } : {}),
    });
    return c.json(
      m.listOut(
        attempts.map((t) => m.attemptOut(t, t.eventId, id)),
        nextCursor,
      ),
      200,
    );
  });

  api.post("/app/:app/endpoint/:ep/send-example", async (c) => {
    const input = await body(c, m.SendExampleIn);
    const { caller, id } = await endpoint(c);
    const { deliveries, history } = c.var.services;
    const sent = await deliveries.test(caller, id, input.eventType);
    const eventId = parseDeliveryId(sent.id)?.eventId;
    if (!eventId) throw new ApiError("internal_error", "The example's event is not known");
    return c.json(m.messageOut(await history.get(caller.accountId, eventId), withContent(c)), 202);
  });
  api.get("/app/:app/endpoint/:ep/msg", async (c) => {
    const { caller, id } = await endpoint(c);
    const { deliveries, history } = c.var.services;
    const { attempts, nextCursor } = await deliveries.attempts(caller, id, {
      limit: Math.min(50, limitOf(c)),
      ...(c.req.query("iterator") ? { cursor: c.req.query("iterator") } : {}),
    });
    const ids = [...new Set(attempts.map((t) => t.eventId))];
    const data = await Promise.all(
      ids.map(async (eventId) => {
        const event = await history.get(caller.accountId, eventId);
        const delivery = event.deliveries.find((d) => d.webhookId === id);
        return {
          ...m.messageOut(event, withContent(c)),
          ...m.deliveryStatusOut(delivery?.status ?? "pending"),
          ...(delivery?.nextAttemptAt ? { nextAttempt: delivery.nextAttemptAt } : {}),
        };
      }),
    );
    return c.json(m.listOut(data, nextCursor), 200);
  });

  // Messages: events.
  api.get("/app/:app/msg", async (c) => {
    const { app } = await inApp(c);
    const types = c.req.query("event_types")?.split(",").filter(Boolean) ?? [];
    const { events, nextCursor } = await c.var.services.history.list(app.id, {
      limit: limitOf(c),
      ...(c.req.query("iterator") ? { cursor: c.req.query("iterator") } : {}),
      ...(types.length === 1 ? { type: types[0] } : {}),
      ...(c.req.query("channel") ? { channel: c.req.query("channel") } : {}),
      ...(c.req.query("tag") ? { tag: c.req.query("tag") } : {}),
      ...(c.req.query("after") ? { since: c.req.query("after") } : {}),
      ...(c.req.query("before") ? { until: c.req.query("before") } : {}),
    });
    const shown = types.length > 1 ? events.filter((e) => types.includes(e.type)) : events;
    return c.json(
      m.listOut(
        shown.map((e) => m.messageOut(e, withContent(c))),
        nextCursor,
      ),
      200,
    );
  });
  api.delete("/app/:app/msg/:msg/content", async (c) => {
    const { caller } = await inApp(c);
    await c.var.services.events.deleteContent(caller, c.req.param("msg"));
    return c.body(null, 204);
  });
  api.get("/app/:app/msg/:msg/endpoint", async (c) => {
    const { app, caller } = await inApp(c);
    const event = await c.var.services.history.get(app.id, c.req.param("msg"));
    const data = await Promise.all(
      event.deliveries.map(async (d) => ({
        ...m.endpointOut(await c.var.services.webhooks.get(caller, d.webhookId)),
        ...m.deliveryStatusOut(d.status),
        ...(d.nextAttemptAt ? { nextAttempt: d.nextAttemptAt } : {}),
      })),
    );
    return c.json(m.listOut(data, null), 200);
  });
  api.get("/app/:app/msg/:msg/attempt/:attempt", async (c) => {
    const { app } = await inApp(c);
    const event = await c.var.services.history.get(app.id, c.req.param("msg"));
    for (const d of event.deliveries) {
      const t = d.attempts.find((a) => a.id === c.req.param("attempt"));
      if (t) return c.json(m.attemptOut(t, event.id, d.webhookId), 200);
    }
    throw new ApiError("not_found", "Attempt not found");
  });
  api.delete("/app/:app/msg/:msg/attempt/:attempt/content", async (c) => {
    const { caller } = await inApp(c);
    const { history } = c.var.services;
    const eventId = c.req.param("msg");
    await history.get(caller.accountId, eventId);
    if (!(await history.deleteAttemptContent(caller.accountId, eventId, c.req.param("attempt")))) {
      throw new ApiError("not_found", "Attempt not found");
    }
    await insertAudit(
      c.var.services.platform.db,
      auditRow(
        caller.audit,
        caller.accountId,
        "event.attempt_content_deleted",
        { type: "attempt", id: c.req.param("attempt"), name: eventId },
        null,
        c.var.services.platform.now(),
      ),
    );
    return c.body(null, 204);
  });
  api.get("/app/:app/endpoint/:ep/stats", async (c) => {
    const { caller, id } = await endpoint(c);
    const { now } = c.var.services.platform;
    const range = keyhookChecked(m.StatsQuery, { since: c.req.query("since"), until: c.req.query("until") });
    const until = range.until ? Date.parse(range.until) : now();
    const since = range.since ? Date.parse(range.since) : until - 28 * 86_400_000;
    const { counts } = await c.var.services.history.webhookStats(caller.accountId, id, since, until);
    return c.json(
      {
        success: counts.succeeded ?? 0,
        pending: counts.pending ?? 0,
        sending: 0,
        fail: (counts.failed ?? 0) + (counts.cancelled ?? 0),
      },
      200,
    );
  });
  api.post("/app/:app/msg/:msg/endpoint/:ep/resend", async (c) => {
    const { caller, id } = await endpoint(c);
    const { history, deliveries } = c.var.services;
    const event = await history.get(caller.accountId, c.req.param("msg"));
    const delivery = event.deliveries.find((d) => d.webhookId === id);
    if (!delivery) throw new ApiError("not_found", "This message was not sent to this endpoint");
    await deliveries.retry(caller, delivery.id);
    return c.json({}, 202);
  });

  api.post("/app/:app/msg", async (c) => {
    const input = await body(c, m.MessageIn);
    const { services } = c.var;
    let app = await account(c).catch((err) => {
      if (err instanceof ApiError && err.code === "not_found" && input.application) return null;
      throw err;
    });
    if (!app && input.application) {
      app = await services.accounts.create(auditOf(c), {
        name: input.application.name,
        plan: "pro",
        externalId: input.application.uid ?? c.req.param("app"),
      });
    }
    if (!app) throw new ApiError("not_found", "Application not found");
    // A message's eventId is unique (a repeat is 409); without one, the request's idempotency-key
    // is the event's own: a retry answers the first message and sends nothing twice.
    const header = c.req.header("idempotency-key");
    const key = input.eventId ? `svix-event-id:${input.eventId}` : header ? `svix-idempotency:${header}` : undefined;
    if (input.eventId && key && (await services.events.findByIdempotencyKey(app.id, key))) {
      throw new SvixError(409, { code: "conflict", detail: `A message with eventId ${input.eventId} exists` });
    }
    const publish = keyhookChecked(PublishBody, {
      type: input.eventType,
      entity: input.payload,
      ...(key ? { idempotencyKey: key } : {}),
      ...(input.channels && input.channels.length > 0 ? { channels: input.channels } : {}),
      ...(input.tags && input.tags.length > 0 ? { tags: input.tags } : {}),
    });
    const { event } = await services.events.publish({ accountId: app.id, webhooksVersion: null }, publish);
    const labels = { channels: publish.channels, tags: publish.tags };
    return c.json(m.messageOut({ ...event, ...labels }, withContent(c), input.eventId), 202);
  });
  api.get("/app/:app/msg/:msg", async (c) => {
    const { app } = await inApp(c);
    const { events, history } = c.var.services;
    const idOrEventId = c.req.param("msg");
    const byEventId = idOrEventId.startsWith("evt_")
      ? null
      : await events.findByIdempotencyKey(app.id, `svix-event-id:${idOrEventId}`);
    const event = await history.get(app.id, byEventId?.id ?? idOrEventId);
    return c.json(m.messageOut(event, withContent(c), byEventId ? idOrEventId : null), 200);
  });
  api.get("/app/:app/attempt/msg/:msg", async (c) => {
    const { app } = await inApp(c);
    const event = await c.var.services.history.get(app.id, c.req.param("msg"));
    const only = c.req.query("endpoint_id");
    const data = event.deliveries
      .filter((d) => !only || d.webhookId === only)
      .flatMap((d) => d.attempts.map((t) => m.attemptOut(t, event.id, d.webhookId)))
      .sort((a, b) => b.timestamp.localeCompare(a.timestamp));
    return c.json(m.listOut(data, null), 200);
  });

  // The application portal: a single-use link to Keyhook's customer portal (docs/portal.md).
  api.post("/auth/app-portal-access/:app", async (c) => {
    const input = await body(c, m.PortalAccessIn);
    const { app } = await inApp(c);
    const { services, principal } = c.var;
    // Svix's capabilities, as Keyhook's: viewing is every session's; managing endpoints and their
    // secrets is webhooks:write; sending attempts again is events:replay.
    const wanted = input.readOnly ? [] : (input.capabilities ?? ["ManageEndpoint", "CreateAttempts"]);
    const capabilities = new Set<"webhooks:read" | "webhooks:write" | "events:replay">(["webhooks:read"]);
    for (const cap of wanted) {
      if (/^(ManageEndpoint|ManageEndpointSecret|ViewEndpointSecret)$/.test(cap)) capabilities.add("webhooks:write");
      if (cap === "CreateAttempts") capabilities.add("events:replay");
    }
    const origin = services.platform.settings.oauth.issuer ?? new URL(c.req.url).origin;
    const session = await services.portal.create(
      { principal, audit: auditOf(c) },
      {
        accountId: app.id,
        capabilities: [...capabilities],
        // Svix allows an hour to seven days; Keyhook's sessions last at most a day.
        expiresIn: Math.min(86_400, Math.max(60, input.expiry ?? 3600)),
      },
      origin,
    );
    const token = new URL(session.url).searchParams.get("token") ?? "";
    return c.json({ url: session.url, token }, 200);
  });

  // A portal link is single use and its session ends in the portal: nothing to log out here.
  api.post("/auth/logout", (c) => c.body(null, 204));

  // Everything else Svix has: 404 in its shape.
  api.all("*", (c) => {
    throw new SvixError(404, { code: "not_found", detail: `No route for ${c.req.method} ${c.req.path}` });
  });

  api.onError((err, c) => {
    if (err instanceof SvixError) return c.json(err.body as object, err.status);
    if (err instanceof ApiError) {
      if (err.code === "validation_failed" || err.code === "invalid_webhook_url") {
        const path = (err.details as { path?: string | string[] } | undefined)?.path;
        const loc = path === undefined ? [] : Array.isArray(path) ? path : [path];
        return c.json(invalid([{ path: loc, message: err.message }]).body as object, 422);
      }
      const code = err.status === 401 ? "authentication_failed" : err.code;
      return c.json({ code, detail: err.message }, errorStatus[err.code]);
    }
    c.var.services?.platform.log("error", "svix api error", { route: c.req.path, error: String(err) });
    return c.json({ code: "internal_error", detail: "Internal server error" }, 500);
  });

  app.route("/api/v1", api);
}

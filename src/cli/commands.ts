import { readFileSync } from "node:fs";
import { type KeyhookClient, KeyhookError } from "../client/index.ts";
import { record, table } from "./format.ts";
import { importSvix } from "./import-svix.ts";

export class UsageError extends Error {}

type Values = Record<string, string | boolean | undefined>;

/** The positional arguments, as many as the command's `args` names (main.ts checks the count first). */
type Args = readonly [string, string];

export interface Command {
  usage: string;
  summary: string;
  options?: Record<string, { type: "string" | "boolean"; description: string }>;
  /** Positional arguments it needs, by name. */
  args?: string[];
  run(
    client: KeyhookClient,
    args: Args,
    values: Values,
  ): Promise<{ data: unknown; text: string; warn?: string; exitCode?: number }>;
}

const list = (v: string | boolean | undefined) =>
  typeof v === "string"
    ? v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
const int = (name: string, v: string | boolean | undefined) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number`);
  return n;
};
/** A whole number, or `none` for null (a setting removed). */
const intOrNone = (name: string, v: string | boolean | undefined) => (v === "none" ? null : int(name, v));
const bool = (name: string, v: string | boolean | undefined) => {
  if (v === undefined) return undefined;
  if (v === "true" || v === true) return true;
  if (v === "false") return false;
  throw new UsageError(`--${name} must be true or false`);
};
const json = (name: string, v: string | boolean | undefined): unknown => {
  if (typeof v !== "string") return undefined;
  const text = v.startsWith("@") ? readFileSync(v.slice(1), "utf8") : v;
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`--${name} is not valid JSON${v.startsWith("@") ? ` (in ${v.slice(1)})` : ""}`);
  }
};
const path = (id: string) => ({ params: { path: { id } } });
const scheme = (v: string | boolean | undefined): "v1" | "v1a" | undefined => {
  if (v === undefined) return undefined;
  if (v === "v1" || v === "v1a") return v;
  throw new UsageError("--signature-scheme must be v1 or v1a");
};

/** The answer's body: the client throws `KeyhookError` for every error, so a success always has one. */
async function ok<T>(call: Promise<{ data?: T }>): Promise<T> {
  const { data } = await call;
  if (data === undefined) throw new Error("The server answered without a body");
  return data;
}

/** A v1a webhook's receiver verifies with a public key; a v1 one with the shared secret. */
const secretLine = (d: { webhook: { signatureScheme: string }; secret: string }) =>
  d.webhook.signatureScheme === "v1a" ? `public key  ${d.secret}` : `secret  ${d.secret}`;

const OPERATOR_KEY_COLUMNS = ["id", "name", "prefix", "last4", "scopes", "status", "lastUsedAt", "expiresAt"];
const KEY_COLUMNS = ["id", "name", "prefix", "last4", "enabled", "lastUsedAt", "expiresAt"];
/** `--credits N [--refill daily|monthly] [--refill-amount N] [--refill-day D]`; `--credits none` removes them. */
function credits(v: Values) {
  if (v.credits === "none") return null;
  const remaining = int("credits", v.credits);
  if (remaining === undefined) return undefined;
  const interval = v.refill;
  if (interval !== undefined && interval !== "daily" && interval !== "monthly") {
    throw new UsageError("--refill must be daily or monthly");
  }
  const refill = interval
    ? {
        interval: interval as "daily" | "monthly",
        amount: int("refill-amount", v["refill-amount"]) ?? remaining,
        dayOfMonth: int("refill-day", v["refill-day"]),
      }
    : undefined;
  return { remaining, refill };
}

const CREDIT_OPTIONS = {
  credits: { type: "string", description: "usage credits: every request spends one (none = unlimited)" },
  refill: { type: "string", description: "daily or monthly: credits start again from the refill amount" },
  "refill-amount": { type: "string", description: "what each refill sets them to (default: --credits)" },
  "refill-day": { type: "string", description: "monthly refills: the day of the month (1-31)" },
} as const;

const keyBody = (v: Values) => ({
  name: v.name as string | undefined,
  credits: credits(v),
  scopes: list(v.scopes),
  profileId: v.profile as string | undefined,
  expiresInDays: int("expires-in-days", v["expires-in-days"]),
  rateLimitPerHour: int("rate-limit", v["rate-limit"]),
  metadata: json("metadata", v.metadata) as Record<string, unknown> | undefined,
});

/** `--json` prints the API's answer as it is; the table shows the record inside it. */
const one = (data: unknown, inner: Record<string, unknown> = data as Record<string, unknown>) => ({
  data,
  text: record(inner),
});

/** Checks still `pending` (the queue consumer's ping) are asked again this often, this many times. */
const DOCTOR_RETRY_MS = 2_000;
const DOCTOR_TRIES = 10;
const MARK = { ok: "✓", fail: "✗", pending: "…" } as const;

export const COMMANDS: Record<string, Command> = {
  "import svix": {
    usage: "import svix --from <Svix server URL> --token <Svix token> [--dry-run]",
    summary:
      "Copy a Svix organisation's applications, event types and endpoints (with their secrets) into Keyhook; run again, it creates nothing twice",
    options: {
      from: { type: "string", description: "the Svix server: https://api.svix.com, or a region's, or another Keyhook" },
      token: { type: "string", description: "a Svix API token of that organisation" },
      "dry-run": { type: "boolean", description: "print what it would do, change nothing" },
    },
    async run(_c, _a, v) {
      if (typeof v.from !== "string" || typeof v.token !== "string") {
        throw new UsageError("--from and --token are required");
      }
      const lines: string[] = [];
      const summary = await importSvix(
        {
          from: v.from,
          token: v.token,
          to: String(v.url),
          toToken: String(v.key),
          dryRun: v["dry-run"] === true,
        },
        (line) => lines.push(line),
      );
      const s = summary;
      lines.push(
        "",
        `${v["dry-run"] ? "Dry run: nothing changed. " : ""}Event types: ${s.eventTypes.created} created, ${s.eventTypes.unchanged} there already.`,
        `Applications: ${s.applications.created} created, ${s.applications.found} there already.`,
        `Endpoints: ${s.endpoints.created} created, ${s.endpoints.updated} updated.`,
        ...(s.failed.length > 0 ? [`Failed (${s.failed.length}):`, ...s.failed.map((f) => `  ${f}`)] : []),
      );
      return { data: summary, text: lines.join("\n"), exitCode: s.failed.length > 0 ? 1 : 0 };
    },
  },
  doctor: {
    usage: "doctor",
    summary:
      "Check a deployment as an operator would (the operator token): one line per part, exit 1 when one is wrong",
    async run(c) {
      // Any answer is reachable; an error answer (a misconfigured Worker's 500) is explained below.
      const reach = await c.GET("/health").then(
        () => null,
        (err: Error) => err,
      );
      if (reach !== null && !(reach instanceof KeyhookError)) {
        return { data: { ok: false, reachable: false }, text: `${MARK.fail} reachable: ${reach.message}`, exitCode: 1 };
      }
      const health = reach ? ` (GET /health answered ${reach.status}: ${reach.message})` : "";
      let data = await ok(c.GET("/v1/deployment/doctor"));
      for (let i = 1; i < DOCTOR_TRIES && data.checks.some((k) => k.status === "pending"); i++) {
        await new Promise((r) => setTimeout(r, DOCTOR_RETRY_MS));
        data = await ok(c.GET("/v1/deployment/doctor"));
      }
      const lines = [
        `${MARK.ok} reachable${health}`,
        ...data.checks.map((k) => `${MARK[k.status]} ${k.name}: ${k.detail}`),
      ];
      const wrong = data.checks.filter((k) => k.status !== "ok").length;
      lines.push(wrong === 0 ? "\nAll good." : `\n${wrong} to fix (above).`);
      return { data, text: lines.join("\n"), exitCode: wrong === 0 ? 0 : 1 };
    },
  },
  whoami: {
    usage: "whoami",
    summary: "Show who the key or token belongs to, and its permissions",
    async run(c) {
      const data = await ok(c.GET("/v1/whoami"));
      return one(data as Record<string, unknown>);
    },
  },
  "keys list": {
    usage: "keys list [--limit N]",
    summary: "List API keys, newest first",
    options: { limit: { type: "string", description: "at most this many (1-100)" } },
    async run(c, _a, v) {
      const data = await ok(c.GET("/v1/api-keys", { params: { query: { limit: int("limit", v.limit) ?? 100 } } }));
      return { data, text: table(data.apiKeys, KEY_COLUMNS) };
    },
  },
  "keys get": {
    usage: "keys get <id>",
    summary: "Show one API key",
    args: ["id"],
    async run(c, [id]) {
      const data = await ok(c.GET("/v1/api-keys/{id}", path(id)));
      return one(data, data.apiKey);
    },
  },
  "keys create": {
    usage:
      "keys create --name NAME [--scopes a,b] [--profile ID] [--expires-in-days N] [--rate-limit N] [--credits N [--refill daily|monthly]] [--metadata JSON]",
    summary: "Create an API key; its secret is printed once",
    options: {
      name: { type: "string", description: "what the key is for (required)" },
      scopes: { type: "string", description: "comma-separated permissions; omit for full access" },
      profile: { type: "string", description: "a permission profile id" },
      "expires-in-days": { type: "string", description: "days until it expires" },
      "rate-limit": { type: "string", description: "requests per hour (default: the plan's)" },
      ...CREDIT_OPTIONS,
      metadata: { type: "string", description: "a JSON object, or @file" },
    },
    async run(c, _a, v) {
      if (!v.name) throw new UsageError("--name is required");
      const data = await ok(c.POST("/v1/api-keys", { body: { ...keyBody(v), name: v.name as string } }));
      return {
        data,
        text: `${record(data.apiKey)}\n\nkey  ${data.key}`,
        warn: "Store this key now: it is shown only once and cannot be recovered.",
      };
    },
  },
  "keys update": {
    usage:
      "keys update <id> [--name N] [--scopes a,b] [--enabled true|false] [--rate-limit N] [--expires-in-days N] [--credits N|none]",
    summary: "Change an API key",
    args: ["id"],
    options: {
      name: { type: "string", description: "a new name" },
      scopes: { type: "string", description: "comma-separated permissions" },
      enabled: { type: "string", description: "true or false" },
      "rate-limit": { type: "string", description: "requests per hour" },
      "expires-in-days": { type: "string", description: "days from now" },
      ...CREDIT_OPTIONS,
      metadata: { type: "string", description: "a JSON object, or @file" },
    },
    async run(c, [id], v) {
      const { profileId: _p, ...body } = keyBody(v);
      const data = await ok(
        c.PATCH("/v1/api-keys/{id}", {
          ...path(id),
          body: { ...body, enabled: bool("enabled", v.enabled) },
        }),
      );
      return one(data, data.apiKey);
    },
  },
  "keys credits": {
    usage: "keys credits <id> (--set N | --add N | --subtract N)",
    summary: "Set, increase or decrease a key's usage credits",
    args: ["id"],
    options: {
      set: { type: "string", description: "give the key exactly N credits" },
      add: { type: "string", description: "add N to what is left" },
      subtract: { type: "string", description: "take N off what is left (never below 0)" },
    },
    async run(c, [id], v) {
      const given = (["set", "add", "subtract"] as const).filter((o) => v[o] !== undefined);
      if (given.length !== 1) throw new UsageError("give exactly one of --set, --add, --subtract");
      const [flag] = given;
      if (flag === undefined) throw new UsageError("give exactly one of --set, --add, --subtract");
      const op = ({ set: "set", add: "increment", subtract: "decrement" } as const)[flag];
      const amount = int(flag, v[flag]) ?? 0;
      const data = await ok(c.POST("/v1/api-keys/{id}/credits", { ...path(id), body: { op, amount } }));
      return { data, text: record({ id, ...data.apiKey.credits }) };
    },
  },
  "keys revoke": {
    usage: "keys revoke <id>",
    summary: "Revoke an API key (immediate and permanent)",
    args: ["id"],
    async run(c, [id]) {
      const data = await ok(c.DELETE("/v1/api-keys/{id}", path(id)));
      return { data, text: `Revoked ${id}` };
    },
  },
  "keys rotate": {
    usage: "keys rotate <id> [--grace-seconds N]",
    summary: "Give a key a new secret; the old one works for the grace period",
    args: ["id"],
    options: { "grace-seconds": { type: "string", description: "0-604800 (default 0)" } },
    async run(c, [id], v) {
      const body = { gracePeriodSeconds: int("grace-seconds", v["grace-seconds"]) ?? 0 };
      const data = await ok(c.POST("/v1/api-keys/{id}/rotate", { ...path(id), body }));
      return {
        data,
        text: `${record(data.apiKey)}\n\nkey  ${data.key}`,
        warn: "Store this key now: it is shown only once.",
      };
    },
  },
  "keys usage": {
    usage: "keys usage <id>",
    summary: "Requests per hour over the last 48 hours",
    args: ["id"],
    async run(c, [id]) {
      const data = await ok(c.GET("/v1/api-keys/{id}/usage", path(id)));
      return { data, text: table(data.usage, ["hour", "requests"]) };
    },
  },
  "webhooks list": {
    usage: "webhooks list",
    summary: "List webhooks",
    async run(c) {
      const data = await ok(c.GET("/v1/webhooks", { params: { query: { limit: 100 } } }));
      return { data, text: table(data.webhooks, ["id", "url", "events", "status", "lastSuccessAt"]) };
    },
  },
  "webhooks get": {
    usage: "webhooks get <id>",
    summary: "Show one webhook",
    args: ["id"],
    async run(c, [id]) {
      const data = await ok(c.GET("/v1/webhooks/{id}", path(id)));
      return one(data, data.webhook);
    },
  },
  "webhooks create": {
    usage:
      "webhooks create --webhook-url URL --events a.b,c.d|* [--filter JSON] [--secret S] [--signature-scheme v1|v1a] [--headers JSON] [--throttle N] [--timeout-ms N] [--description D]",
    summary: "Create a webhook; its signing secret is printed",
    options: {
      "webhook-url": { type: "string", description: "https:// URL to POST to (required)" },
      events: { type: "string", description: "comma-separated event types, or * (required)" },
      filter: { type: "string", description: "JSON list of conditions, or @file" },
      secret: { type: "string", description: "your own signing secret (default: generated)" },
      "signature-scheme": {
        type: "string",
        description: "v1 (HMAC, default) or v1a (Ed25519: a public key is printed)",
      },
      headers: { type: "string", description: 'custom headers, a JSON object ({"Authorization": "…"}) or @file' },
      throttle: { type: "string", description: "at most N deliveries a second to it" },
      "timeout-ms": { type: "string", description: "its own timeout, below the deployment's" },
      description: { type: "string", description: "a note" },
    },
    async run(c, _a, v) {
      if (!v["webhook-url"] || !v.events) throw new UsageError("--webhook-url and --events are required");
      const body = {
        url: v["webhook-url"] as string,
        events: list(v.events) ?? [],
        filter: json("filter", v.filter) as never,
        secret: v.secret as string | undefined,
        signatureScheme: scheme(v["signature-scheme"]),
        headers: json("headers", v.headers) as Record<string, string> | undefined,
        throttle: int("throttle", v.throttle),
        timeoutMs: int("timeout-ms", v["timeout-ms"]),
        description: v.description as string | undefined,
      };
      const data = await ok(c.POST("/v1/webhooks", { body }));
      return { data, text: `${record(data.webhook)}\n\n${secretLine(data)}` };
    },
  },
  "webhooks update": {
    usage:
      "webhooks update <id> [--webhook-url U] [--events a,b] [--status active|disabled] [--headers JSON|null] [--throttle N|none] [--timeout-ms N|none] [--description D]",
    summary: "Change a webhook",
    args: ["id"],
    options: {
      "webhook-url": { type: "string", description: "a new URL" },
      events: { type: "string", description: "comma-separated event types, or *" },
      status: { type: "string", description: "active or disabled" },
      headers: { type: "string", description: "replaces the custom headers (JSON object, or null for none)" },
      throttle: { type: "string", description: "deliveries a second, or none" },
      "timeout-ms": { type: "string", description: "its own timeout, or none for the deployment's" },
      description: { type: "string", description: "a note" },
    },
    async run(c, [id], v) {
      if (v.status !== undefined && v.status !== "active" && v.status !== "disabled") {
        throw new UsageError("--status must be active or disabled");
      }
      const body = {
        url: v["webhook-url"] as string | undefined,
        events: list(v.events),
        status: v.status as "active" | "disabled" | undefined,
        headers: json("headers", v.headers) as Record<string, string> | null | undefined,
        throttle: intOrNone("throttle", v.throttle),
        timeoutMs: intOrNone("timeout-ms", v["timeout-ms"]),
        description: v.description as string | undefined,
      };
      const data = await ok(c.PATCH("/v1/webhooks/{id}", { ...path(id), body }));
      return one(data, data.webhook);
    },
  },
  "webhooks delete": {
    usage: "webhooks delete <id>",
    summary: "Delete a webhook",
    args: ["id"],
    async run(c, [id]) {
      const data = await ok(c.DELETE("/v1/webhooks/{id}", path(id)));
      return { data, text: `Deleted ${id}` };
    },
  },
  "webhooks test": {
    usage: "webhooks test <id> [--event TYPE]",
    summary: "Send a signed test event",
    args: ["id"],
    options: { event: { type: "string", description: "the event type to imitate" } },
    async run(c, [id], v) {
      const data = await ok(
        c.POST("/v1/webhooks/{id}/test", {
          ...path(id),
          body: { event: v.event as string | undefined },
        }),
      );
      return one(data, data.delivery);
    },
  },
  "webhooks attempts": {
    usage: "webhooks attempts <id> [--status succeeded|failed] [--type T] [--since ISO] [--limit N] [--cursor C]",
    summary: "A webhook's delivery attempts, newest first (recent and archived alike)",
    args: ["id"],
    options: {
      status: { type: "string", description: "succeeded or failed" },
      type: { type: "string", description: "event type" },
      since: { type: "string", description: "ISO time" },
      limit: { type: "string", description: "1-100 (default 50)" },
      cursor: { type: "string", description: "nextCursor of the previous page" },
    },
    async run(c, [id], v) {
      const query = {
        status: v.status as "succeeded" | "failed" | undefined,
        eventType: v.type as string | undefined,
        since: v.since as string | undefined,
        limit: int("limit", v.limit),
        cursor: v.cursor as string | undefined,
      };
      const data = await ok(c.GET("/v1/webhooks/{id}/attempts", { params: { path: { id: id ?? "" }, query } }));
      return {
        data,
        text: table(data.attempts, [
          "createdAt",
          "eventType",
          "responseStatus",
          "durationMs",
          "failureReason",
          "deliveryId",
        ]),
      };
    },
  },
  "webhooks retry": {
    usage: "webhooks retry <delivery-id>",
    summary: "Send one delivery again now",
    args: ["delivery-id"],
    async run(c, [id]) {
      const data = await ok(c.POST("/v1/deliveries/{id}/retry", path(id)));
      return one(data, data.delivery);
    },
  },
  "webhooks replay": {
    usage: "webhooks replay <id> --since ISO [--until ISO]",
    summary: "Send what the webhook missed in a time range (once each, in order)",
    args: ["id"],
    options: {
      since: { type: "string", description: "published at or after (required)" },
      until: { type: "string", description: "published before (default: now)" },
    },
    async run(c, [id], v) {
      if (typeof v.since !== "string") throw new UsageError("--since is required");
      const body = { since: v.since, until: v.until as string | undefined };
      const data = await ok(c.POST("/v1/webhooks/{id}/replay", { ...path(id), body }));
      const next = data.nextSince ? `\nMore in the range: replay again with --since ${data.nextSince}` : "";
      return { data, text: `Replaying ${data.replayed} event(s)${next}` };
    },
  },
  "webhooks replay-all": {
    usage: "webhooks replay-all --since ISO [--until ISO]",
    summary: "Replay every active webhook over one time range",
    options: {
      since: { type: "string", description: "published at or after (required)" },
      until: { type: "string", description: "published before (default: now)" },
    },
    async run(c, _a, v) {
      if (typeof v.since !== "string") throw new UsageError("--since is required");
      const body = { since: v.since, until: v.until as string | undefined };
      const data = await ok(c.POST("/v1/replays", { body }));
      return { data, text: table(data.webhooks, ["id", "replayed", "nextSince"]) };
    },
  },
  "webhooks rotate-secret": {
    usage: "webhooks rotate-secret <id> [--overlap-seconds N] [--signature-scheme v1|v1a]",
    summary: "A new signing secret; the old one keeps signing during the overlap",
    args: ["id"],
    options: {
      "overlap-seconds": { type: "string", description: "default 86400, at most 604800" },
      "signature-scheme": { type: "string", description: "switch schemes; both sign during the overlap" },
    },
    async run(c, [id], v) {
      const body = {
        overlapSeconds: int("overlap-seconds", v["overlap-seconds"]),
        signatureScheme: scheme(v["signature-scheme"]),
      };
      const data = await ok(c.POST("/v1/webhooks/{id}/rotate-secret", { ...path(id), body }));
      return { data, text: `${record(data.webhook)}\n\n${secretLine(data)}` };
    },
  },
  "events publish": {
    usage: "events publish --type TYPE --entity JSON|@file [--idempotency-key K]",
    summary: "Publish an event to the matching webhooks",
    options: {
      type: { type: "string", description: "e.g. issue.resolved (required)" },
      entity: { type: "string", description: "a JSON object, or @file (required)" },
      "idempotency-key": { type: "string", description: "repeat-safe publishing (kept 24 h)" },
    },
    async run(c, _a, v) {
      if (!v.type || !v.entity) throw new UsageError("--type and --entity are required");
      const entity = json("entity", v.entity);
      if (!entity || typeof entity !== "object" || Array.isArray(entity))
        throw new UsageError("--entity must be a JSON object");
      const body = {
        type: v.type as string,
        entity: entity as Record<string, unknown>,
        idempotencyKey: v["idempotency-key"] as string | undefined,
      };
      const data = await ok(c.POST("/v1/events", { body }));
      return { data, text: `${record(data.event)}\n\n${table(data.deliveries, ["id", "webhookId", "status"])}` };
    },
  },
  "events list": {
    usage:
      "events list [--type T] [--status delivered|failing|pending] [--since ISO] [--until ISO] [--limit N] [--cursor C]",
    summary: "The event log, newest first (recent and archived alike)",
    options: {
      type: { type: "string", description: "event type" },
      status: { type: "string", description: "delivered, failing or pending" },
      since: { type: "string", description: "ISO time" },
      until: { type: "string", description: "ISO time" },
      limit: { type: "string", description: "1-100 (default 20)" },
      cursor: { type: "string", description: "nextCursor of the previous page" },
    },
    async run(c, _a, v) {
      const query = {
        type: v.type as string | undefined,
        status: v.status as "delivered" | "failing" | "pending" | undefined,
        since: v.since as string | undefined,
        until: v.until as string | undefined,
        limit: int("limit", v.limit),
        cursor: v.cursor as string | undefined,
      };
      const data = await ok(c.GET("/v1/events", { params: { query } }));
      const rows = data.events.map((e) => ({
        id: e.id,
        type: e.type,
        occurredAt: e.occurredAt,
        status: e.status,
        deliveries: e.deliveries.length,
      }));
      return { data, text: table(rows, ["id", "type", "occurredAt", "status", "deliveries"]) };
    },
  },
  "events get": {
    usage: "events get <id>",
    summary: "An event with every delivery and attempt",
    args: ["id"],
    async run(c, [id]) {
      const data = await ok(c.GET("/v1/events/{id}", path(id)));
      const rows = data.event.deliveries.flatMap((d) =>
        d.attempts.map((a) => ({
          delivery: d.id,
          webhook: d.webhookId,
          attempt: a.attempt,
          status: a.responseStatus ?? a.failureReason,
          at: a.createdAt,
        })),
      );
      return { data, text: table(rows, ["delivery", "webhook", "attempt", "status", "at"]) };
    },
  },
  "operator-keys list": {
    usage: "operator-keys list [--limit N]",
    summary: "List the operator keys, revoked ones included (operator)",
    options: { limit: { type: "string", description: "at most this many (1-100)" } },
    async run(c, _a, v) {
      const query = { limit: int("limit", v.limit) ?? 100 };
      const data = await ok(c.GET("/v1/deployment/operator-keys", { params: { query } }));
      return { data, text: table(data.operatorKeys, OPERATOR_KEY_COLUMNS) };
    },
  },
  "operator-keys create": {
    usage: "operator-keys create --name NAME [--scopes a,b] [--expires-at ISO]",
    summary: "Create an operator key (the token for a Svix client, a CI job); its secret is printed once",
    options: {
      name: { type: "string", description: "what the key is for (required)" },
      scopes: {
        type: "string",
        description: "comma-separated: operator:read, operator:write, account permissions; omit for full access",
      },
      "expires-at": { type: "string", description: "ISO time it stops working" },
    },
    async run(c, _a, v) {
      if (!v.name) throw new UsageError("--name is required");
      const body = { name: v.name as string, scopes: list(v.scopes), expiresAt: v["expires-at"] as string | undefined };
      const data = await ok(c.POST("/v1/deployment/operator-keys", { body }));
      return {
        data,
        text: `${record(data.operatorKey)}\n\nkey  ${data.key}`,
        warn: "Store this key now: it is shown only once and cannot be recovered.",
      };
    },
  },
  "operator-keys update": {
    usage: "operator-keys update <id> [--name N] [--scopes a,b]",
    summary: "Rename an operator key or change its scopes (from its next request)",
    args: ["id"],
    options: {
      name: { type: "string", description: "a new name" },
      scopes: { type: "string", description: "comma-separated permissions" },
    },
    async run(c, [id], v) {
      const body = { name: v.name as string | undefined, scopes: list(v.scopes) };
      const data = await ok(c.PATCH("/v1/deployment/operator-keys/{id}", { ...path(id), body }));
      return one(data, data.operatorKey);
    },
  },
  "operator-keys revoke": {
    usage: "operator-keys revoke <id>",
    summary: "Revoke an operator key: refused from its next request on",
    args: ["id"],
    async run(c, [id]) {
      const data = await ok(c.DELETE("/v1/deployment/operator-keys/{id}", path(id)));
      return { data, text: `Revoked ${id}` };
    },
  },
  "audit list": {
    usage: "audit list [--deployment] [--action A] [--actor ID] [--target ID] [--since ISO] [--until ISO] [--limit N]",
    summary: "The audit log, newest first; --deployment: the operator's, outside any account",
    options: {
      deployment: { type: "boolean", description: "the deployment's log (operator keys, shared OAuth clients)" },
      action: { type: "string", description: "e.g. api_key.revoked" },
      actor: { type: "string", description: "who (a key id, user id or operator)" },
      target: { type: "string", description: "what it was done to" },
      since: { type: "string", description: "ISO time" },
      until: { type: "string", description: "ISO time" },
      limit: { type: "string", description: "1-100 (default 20)" },
    },
    async run(c, _a, v) {
      const query = {
        action: v.action as string | undefined,
        actorId: v.actor as string | undefined,
        targetId: v.target as string | undefined,
        since: v.since as string | undefined,
        until: v.until as string | undefined,
        limit: int("limit", v.limit),
      };
      const data = await ok(
        v.deployment
          ? c.GET("/v1/deployment/audit-log", { params: { query } })
          : c.GET("/v1/audit-log", { params: { query } }),
      );
      const rows = data.entries.map((e) => ({
        when: e.createdAt,
        who: `${e.actor.name} (${e.actor.type})`,
        action: e.action,
        target: e.target.name ?? e.target.id,
      }));
      return { data, text: table(rows, ["when", "who", "action", "target"]) };
    },
  },
};

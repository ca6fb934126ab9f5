import { jsonColumn } from "../../db/client";
import { readStoredJson } from "../../lib/json-depth";
import type { AttemptRecord } from "../deliveries/attempt";
import type { HistoryAttempt, HistoryDelivery, HistoryEvent } from "./record";
import type { StoredAttempt, StoredDelivery } from "./stored-format";

export type { DeliveryStatus, StoredAttempt, StoredDelivery } from "./stored-format";

/**
 * An event as D1 keeps it: one row holding its deliveries and their attempts (migration 0015). A
 * delivered webhook writes no row of its own: the publish inserts the event with its pending
 * deliveries, the first attempts' outcomes update it, and once every delivery is final its entity
 * and attempts are packed (raw deflate) into the row. Times inside the row are milliseconds after the
 * event's creation, so a delivery's state stays a few dozen bytes.
 */

/** `dlv_` + the event's id + the delivery's index (2 base-36 digits): a delivery names its event. */
export const MAX_DELIVERIES_PER_EVENT = 36 * 36;

export function deliveryId(eventId: string, index: number): string {
  return `dlv_${eventId.slice(4)}${index.toString(36).padStart(2, "0")}`;
}

/** The event and index a delivery id names; null for an id made before (`StoredDelivery.i`). */
export function parseDeliveryId(id: string): { eventId: string; index: number } | null {
  const m = /^dlv_([0-9A-Za-z]{24})([0-9a-z]{2})$/.exec(id);
  return m ? { eventId: `evt_${m[1]}`, index: Number.parseInt(m[2] as string, 36) } : null;
}

export const idOfDelivery = (eventId: string, index: number, d: StoredDelivery) => d.i ?? deliveryId(eventId, index);

/** When the event's earliest pending delivery is due (the `due_at` the sweeper reads), or null. */
export function dueAtOf(createdAt: number, deliveries: readonly StoredDelivery[]): number | null {
  let due: number | null = null;
  for (const d of deliveries) if (d.s === "pending" && d.x !== undefined && (due === null || d.x < due)) due = d.x;
  return due === null ? null : createdAt + due;
}

/** Order of Keyhook's own request headers (`deliveries/request.ts`), after a webhook's custom ones. */
const OWN_HEADERS = [
  "content-type",
  "user-agent",
  "webhook-id",
  "webhook-timestamp",
  "webhook-signature",
  "svix-id",
  "svix-timestamp",
  "svix-signature",
  "x-keyhook-signature",
  "x-keyhook-event",
  "x-keyhook-webhook-id",
  "x-keyhook-delivery",
];

/** The request headers an attempt's event and delivery say: an attempt is stored without them. */
const sayable = (c: { eventId: string; eventType: string; webhookId: string; deliveryId: string }) =>
  ({
    "content-type": "application/json",
    "webhook-id": c.eventId,
    "x-keyhook-event": c.eventType,
    "x-keyhook-webhook-id": c.webhookId,
    "x-keyhook-delivery": c.deliveryId,
  }) as Record<string, string>;

/** `svix-*` headers sent beside the `webhook-*` ones with the same values (`deliveries/request.ts`). */
const MIRRORS = [
  ["svix-id", "webhook-id"],
  ["svix-timestamp", "webhook-timestamp"],
  ["svix-signature", "webhook-signature"],
] as const;

const mirrored = (h: Record<string, string>) =>
  MIRRORS.every(([svix, std]) => h[svix] !== undefined && h[svix] === h[std]);

/** The request headers to store: those the event and delivery do not say, nor the `svix-*` mirrors. */
function storedHeaders(a: AttemptRecord) {
  const said = sayable(a);
  const mirrors: Set<string> = new Set(mirrored(a.requestHeaders) ? MIRRORS.map(([svix]) => svix) : []);
  return Object.fromEntries(Object.entries(a.requestHeaders).filter(([k, v]) => said[k] !== v && !mirrors.has(k)));
}

/**
 * The request headers as sent: the stored ones and those the event and delivery say, in order;
 * `withMirrors` (stored as `z: 2`): the `svix-*` copies of the `webhook-*` ones too.
 */
function sentHeaders(stored: Record<string, string>, eventSaid: Record<string, string>, withMirrors: boolean) {
  const said = { ...eventSaid };
  if (withMirrors) for (const [svix, std] of MIRRORS) said[svix] = stored[std] ?? eventSaid[std] ?? "";
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(stored)) if (!OWN_HEADERS.includes(k)) out[k] = v;
  for (const k of OWN_HEADERS) {
    const v = stored[k] ?? said[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

export function toStoredAttempt(a: AttemptRecord, index: number, eventCreatedAt: number): StoredAttempt {
  return {
    i: a.id,
    d: index,
    a: a.attempt,
    u: a.url,
    h: storedHeaders(a),
    z: mirrored(a.requestHeaders) ? 2 : 1,
    ...(a.raw ? { y: 1 as const } : {}),
    s: a.responseStatus,
    r: a.responseHeaders,
    o: a.responseBody,
    m: a.durationMs,
    f: a.failureReason,
    k: a.succeeded ? 1 : 0,
    t: a.createdAt - eventCreatedAt,
  };
}

const fromStoredAttempt = (t: StoredAttempt, eventCreatedAt: number, said: Record<string, string>): HistoryAttempt => ({
  id: t.i,
  attempt: t.a,
  url: t.u,
  requestHeaders: t.z === undefined ? t.h : sentHeaders(t.h, said, t.z === 2),
  requestBody: t.b ?? null,
  ...(t.y === 1 ? { raw: true } : {}),
  // Absent keys are nulls (migration 0015 wrote rows without them).
  responseStatus: t.s ?? null,
  responseHeaders: t.r ?? null,
  responseBody: t.o ?? null,
  durationMs: t.m,
  failureReason: t.f ?? null,
  succeeded: t.k === 1,
  createdAt: eventCreatedAt + t.t,
});

const at = (createdAt: number, delta: number | undefined) => (delta === undefined ? null : createdAt + delta);

/** A delivery as the history shows it (without its attempts). */
export function toHistoryDelivery(eventId: string, createdAt: number, index: number, d: StoredDelivery) {
  const made = createdAt + (d.c ?? 0);
  return {
    id: idOfDelivery(eventId, index, d),
    webhookId: d.w,
    status: d.s,
    attempts: d.n,
    nextAttemptAt: d.s === "pending" ? at(createdAt, d.x) : null,
    lastAttemptAt: at(createdAt, d.l),
    isTest: d.t === 1,
    createdAt: made,
    updatedAt: at(createdAt, d.u ?? d.l) ?? made,
  } satisfies Omit<HistoryDelivery, "tries">;
}

/** An event row, its entity and attempts unpacked. */
export interface StoredEvent {
  id: string;
  accountId: string;
  type: string;
  /** The entity's JSON text, exactly as published (what deliveries sign). */
  entity: string;
  idempotencyKey: string | null;
  createdAt: number;
  contentDeletedAt: number | null;
  deliveries: StoredDelivery[];
  attempts: StoredAttempt[];
  packed: boolean;
  rev: number;
  /** Svix's channels and tags (null: none); written by the outbox and a recall only. */
  channels: string[] | null;
  tags: string[] | null;
}

export function toHistoryEvent(e: StoredEvent, parseEntity: (text: string) => unknown): HistoryEvent {
  const tries = new Map<number, HistoryAttempt[]>();
  for (const t of [...e.attempts].sort((a, b) => (a.i < b.i ? -1 : a.i > b.i ? 1 : 0))) {
    const list = tries.get(t.d) ?? [];
    const d = e.deliveries[t.d];
    const said = sayable({
      eventId: e.id,
      eventType: e.type,
      webhookId: d?.w ?? "",
      deliveryId: d ? idOfDelivery(e.id, t.d, d) : "",
    });
    list.push(fromStoredAttempt(t, e.createdAt, said));
    tries.set(t.d, list);
  }
  return {
    id: e.id,
    accountId: e.accountId,
    type: e.type,
    entity: (parseEntity(e.entity) ?? {}) as Record<string, unknown>,
    createdAt: e.createdAt,
    contentDeletedAt: e.contentDeletedAt,
    deliveries: e.deliveries.map((d, i) => ({
      ...toHistoryDelivery(e.id, e.createdAt, i, d),
      tries: tries.get(i) ?? [],
    })),
    ...(e.channels ? { channels: e.channels } : {}),
    ...(e.tags ? { tags: e.tags } : {}),
  };
}

/** The row for a whole history record (an archived event written back to D1). */
export function fromHistoryEvent(e: HistoryEvent): Omit<StoredEvent, "packed" | "rev"> {
  const rel = (t: number | null) => (t === null ? undefined : t - e.createdAt);
  const deliveries: StoredDelivery[] = e.deliveries.map((d, index) => {
    const stored: StoredDelivery = { w: d.webhookId, s: d.status, n: d.attempts };
    if (d.lastAttemptAt !== null) stored.l = d.lastAttemptAt - e.createdAt;
    if (d.status === "pending" && d.nextAttemptAt !== null) stored.x = d.nextAttemptAt - e.createdAt;
    if (d.createdAt !== e.createdAt) stored.c = d.createdAt - e.createdAt;
    if (d.updatedAt !== (d.lastAttemptAt ?? d.createdAt)) stored.u = rel(d.updatedAt);
    if (d.isTest) stored.t = 1;
    if (d.id !== deliveryId(e.id, index)) stored.i = d.id;
    return stored;
  });
  const attempts: StoredAttempt[] = e.deliveries.flatMap((d, index) =>
    d.tries.map((t) => ({
      i: t.id,
      d: index,
      a: t.attempt,
      u: t.url,
      h: t.requestHeaders,
      ...(t.requestBody === null ? {} : { b: t.requestBody }),
      ...(t.raw ? { y: 1 as const } : {}),
      s: t.responseStatus,
      r: t.responseHeaders,
      o: t.responseBody,
      m: t.durationMs,
      f: t.failureReason,
      k: t.succeeded ? 1 : 0,
      t: t.createdAt - e.createdAt,
    })),
  );
  return {
    id: e.id,
    accountId: e.accountId,
    type: e.type,
    entity: JSON.stringify(e.entity),
    idempotencyKey: null,
    createdAt: e.createdAt,
    contentDeletedAt: e.contentDeletedAt,
    deliveries,
    attempts,
    channels: e.channels ?? null,
    tags: e.tags ?? null,
  };
}

/** What a final event's row packs: its entity's text and its attempts, compressed (raw deflate). */
interface Packed {
  e: string;
  a: StoredAttempt[];
}

async function deflate(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Raw deflate, or gzip (rows packed before): a gzip stream's first bytes are no valid deflate block. */
async function inflate(bytes: Uint8Array): Promise<string> {
  const format = bytes[0] === 0x1f && bytes[1] === 0x8b ? "gzip" : "deflate-raw";
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream(format));
  return new Response(stream).text();
}

export const pack = (entity: string, attempts: readonly StoredAttempt[]) =>
  deflate(JSON.stringify({ e: entity, a: [...attempts] } satisfies Packed));

async function unpack(bytes: Uint8Array): Promise<Packed> {
  return readStoredJson(await inflate(bytes)) as Packed;
}

/** D1 answers a BLOB as an array of bytes (or an ArrayBuffer, by driver). */
function blobOf(value: unknown): Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (Array.isArray(value)) return Uint8Array.from(value as number[]);
  return null;
}

type Row = Record<string, unknown>;

/**
 * An `events` row as D1 answers it (`SELECT *`), decoded: a packed row's entity and attempts are
 * unpacked; a row whose content was deleted has `{}`.
 */
export async function readStoredEvent(r: Row): Promise<StoredEvent> {
  const blob = blobOf(r.packed);
  const inner = blob ? await unpack(blob) : null;
  return {
    id: String(r.id),
    accountId: String(r.account_id),
    type: String(r.type),
    entity: inner ? inner.e : r.entity === null || r.entity === undefined ? "{}" : String(r.entity),
    idempotencyKey: r.idempotency_key === null || r.idempotency_key === undefined ? null : String(r.idempotency_key),
    createdAt: Number(r.created_at),
    contentDeletedAt:
      r.content_deleted_at === null || r.content_deleted_at === undefined ? null : Number(r.content_deleted_at),
    deliveries: jsonColumn<StoredDelivery[]>(r.deliveries) ?? [],
    attempts: inner ? inner.a : (jsonColumn<StoredAttempt[]>(r.attempts) ?? []),
    packed: blob !== null,
    rev: Number(r.rev ?? 0),
    channels: jsonColumn<string[]>(r.channels) ?? null,
    tags: jsonColumn<string[]>(r.tags) ?? null,
  };
}

import { z } from "zod";
import type { DeploymentEventTypeRow } from "../../db/schema";
import { iso } from "../../lib/schemas";

/**
 * Svix's request bodies (`svix@2.5.0`'s models, ../shared/research/svix-compat.md §3) and the
 * answers it parses, mapped from Keyhook's: an application is an account (`uid` its `externalId`),
 * an endpoint a webhook, a message an event, an attempt an attempt.
 */
const Uid = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[a-zA-Z0-9\-_.]+$/, "letters, digits, -, _ and . only");
const Metadata = z.record(z.string(), z.string());
const EventTypeName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[a-zA-Z0-9\-_.]+$/, "letters, digits, -, _ and . only");

export const ApplicationIn = z.object({
  name: z.string().min(1).max(100),
  uid: Uid.nullish(),
  throttleRate: z.number().int().min(1).nullish(),
  metadata: Metadata.nullish(),
});

export const ApplicationPatch = z.object({
  name: z.string().min(1).max(100).optional(),
  uid: Uid.nullable().optional(),
  throttleRate: z.number().int().min(1).nullable().optional(),
  metadata: Metadata.optional(),
});

export const EndpointIn = z.object({
  url: z.string().min(1).max(2048),
  description: z.string().max(500).nullish(),
  uid: Uid.nullish(),
  disabled: z.boolean().nullish(),
  eventTypes: z.array(EventTypeName).max(100).nullish(),
  channels: z.array(z.string()).max(10).nullish(),
  throttleRate: z.number().int().min(1).nullish(),
  secret: z.string().nullish(),
  metadata: Metadata.nullish(),
  headers: z.record(z.string(), z.string()).nullish(),
});

/** PATCH: `null` clears, absent keeps. */
export const EndpointPatch = z.object({
  url: z.string().min(1).max(2048).optional(),
  description: z.string().max(500).nullable().optional(),
  disabled: z.boolean().optional(),
  eventTypes: z.array(EventTypeName).max(100).nullable().optional(),
  throttleRate: z.number().int().min(1).nullable().optional(),
  uid: Uid.nullable().optional(),
  channels: z.array(z.string()).max(10).nullable().optional(),
  metadata: Metadata.nullable().optional(),
});

export const MessageIn = z.object({
  eventId: Uid.nullish(),
  eventType: EventTypeName,
  payload: z.record(z.string(), z.unknown()),
  channels: z.array(z.string()).max(10).nullish(),
  tags: z.array(z.string()).max(5).nullish(),
  application: ApplicationIn.nullish(),
});

export const EventTypeIn = z.object({
  name: EventTypeName,
  description: z.string().max(1000).default(""),
  archived: z.boolean().optional(),
  deprecated: z.boolean().optional(),
  schemas: z.record(z.string(), z.unknown()).nullish(),
  groupName: z.string().max(100).nullish(),
});

/** PATCH: absent keeps (no default: zod applies a default even inside `.partial()`), `null` clears. */
export const EventTypePatch = z.object({
  description: z.string().max(1000).optional(),
  archived: z.boolean().optional(),
  deprecated: z.boolean().optional(),
  schemas: z.record(z.string(), z.unknown()).nullable().optional(),
  groupName: z.string().max(100).nullable().optional(),
});

export const HeadersIn = z.object({
  headers: z.record(z.string(), z.string()),
  deleteHeaders: z.array(z.string()).optional(),
});

export const StatsQuery = z.object({
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
});

export const RangeIn = z.object({
  since: z.iso.datetime({ offset: true }),
  until: z.iso.datetime({ offset: true }).nullish(),
});

/** A background task as Svix answers recover and replay-missing: Keyhook finishes them before it answers. */
export const taskOut = (task: "endpoint.recover" | "endpoint.replay", at: number) => ({
  id: `qtask_${crypto.randomUUID().replaceAll("-", "")}`,
  status: "finished",
  task,
  updatedAt: iso(at),
});

export const PortalAccessIn = z.object({
  readOnly: z.boolean().nullish(),
  capabilities: z.array(z.string()).nullish(),
  expiry: z.number().int().min(1).nullish(),
  application: ApplicationIn.nullish(),
  featureFlags: z.array(z.string()).nullish(),
  sessionId: z.string().nullish(),
});

export const SendExampleIn = z.object({ eventType: EventTypeName, exampleIndex: z.number().int().min(0).nullish() });

export const RotateIn = z.object({ key: z.string().nullish(), gracePeriodSeconds: z.number().int().min(0).nullish() });

/** An account as Svix's `ApplicationOut`. */
export function applicationOut(a: {
  id: string;
  name: string;
  externalId: string | null;
  createdAt: string;
  updatedAt: string;
}) {
  return {
    id: a.id,
    uid: a.externalId ?? undefined,
    name: a.name,
    metadata: {},
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  };
}

interface WebhookView {
  id: string;
  uid: string | null;
  channels: string[] | null;
  metadata: Record<string, string>;
  url: string;
  events: string[];
  description: string | null;
  status: "active" | "disabled";
  throttle: number | null;
  createdAt: string;
  updatedAt: string;
}

/** A webhook as Svix's `EndpointOut`: all events is no `eventTypes`. */
export function endpointOut(w: WebhookView) {
  return {
    id: w.id,
    url: w.url,
    description: w.description ?? "",
    disabled: w.status === "disabled",
    ...(w.events.includes("*") ? {} : { eventTypes: w.events }),
    ...(w.throttle === null ? {} : { throttleRate: w.throttle }),
    ...(w.uid === null ? {} : { uid: w.uid }),
    ...(w.channels === null ? {} : { channels: w.channels }),
    metadata: w.metadata,
    createdAt: w.createdAt,
    updatedAt: w.updatedAt,
  };
}

/** An event as Svix's `MessageOut`; its payload only when asked for (`with_content=true`). */
export function messageOut(
  e: {
    id: string;
    type: string;
    occurredAt: string;
    entity: Record<string, unknown>;
    channels?: string[] | undefined;
    tags?: string[] | undefined;
  },
  withContent: boolean,
  eventId?: string | null,
) {
  return {
    id: e.id,
    ...(eventId ? { eventId } : {}),
    eventType: e.type,
    ...(e.channels ? { channels: e.channels } : {}),
    ...(e.tags ? { tags: e.tags } : {}),
    payload: withContent ? e.entity : {},
    timestamp: e.occurredAt,
  };
}

/** Svix's message statuses: 0 success, 1 pending, 2 fail, 4 canceled. */
const STATUS = {
  succeeded: [0, "success"],
  pending: [1, "pending"],
  failed: [2, "fail"],
  cancelled: [4, "canceled"],
} as const;

interface AttemptView {
  id: string;
  url: string;
  responseStatus: number | null;
  responseBody: string | null;
  durationMs: number;
  succeeded: boolean;
  createdAt: string;
}

/** An attempt as Svix's `MessageAttemptOut`. */
export function attemptOut(t: AttemptView, msgId: string, endpointId: string) {
  const [status, statusText] = t.succeeded ? STATUS.succeeded : STATUS.failed;
  return {
    id: t.id,
    msgId,
    endpointId,
    url: t.url,
    response: t.responseBody ?? "",
    responseStatusCode: t.responseStatus ?? 0,
    responseDurationMs: t.durationMs,
    status,
    statusText,
    triggerType: 0,
    timestamp: t.createdAt,
  };
}

export function deliveryStatusOut(s: keyof typeof STATUS) {
  const [status, statusText] = STATUS[s];
  return { status, statusText };
}

/** A deployment event type as Svix's `EventTypeOut`; its schemas only when asked for. */
export function eventTypeOut(r: DeploymentEventTypeRow, withContent = true) {
  return {
    name: r.name,
    description: r.description,
    archived: r.archived,
    deprecated: r.deprecated,
    ...(withContent && r.schemas ? { schemas: r.schemas } : {}),
    ...(r.groupName ? { groupName: r.groupName } : {}),
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

/** Svix's list answer. */
export const listOut = <T>(data: T[], iterator: string | null) => ({
  data,
  iterator,
  prevIterator: null,
  done: iterator === null,
});

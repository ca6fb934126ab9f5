import { KEYHOOK_VERSION } from "../../lib/version";
import type { EntitySchema } from "./entity-schema";

/** An event type as the OpenAPI `webhooks` section describes it. */
export interface CatalogEntry {
  name: string;
  description: string | null;
  group: string | null;
  schema: EntitySchema | null;
  examples: Record<string, unknown>[];
  deprecated: boolean;
}

/** The Standard Webhooks headers every delivery carries (docs/webhooks.md "Verifying signatures"). */
const HEADERS = [
  ["webhook-id", "The event's id: the same on every try of a delivery (deduplicate on it)"],
  ["webhook-timestamp", "Seconds since the epoch, signed with the body"],
  ["webhook-signature", "`v1,<base64 HMAC-SHA256>` or `v1a,<base64 Ed25519>`, space-separated during a rotation"],
].map(([name, description]) => ({ name, in: "header", required: true, description, schema: { type: "string" } }));

/** `invoice.paid` → `invoicePaid` (an operation id a generator turns into a name). */
const operationIdOf = (name: string) =>
  name.replace(/[._]([a-z0-9])/g, (_, c: string) => c.toUpperCase()).replace(/[^A-Za-z0-9]/g, "");

/** The body a receiver gets for one type: the envelope, with the type's entity schema inside. */
function bodySchema(entry: CatalogEntry) {
  return {
    type: "object",
    required: ["id", "event", "accountId", "occurredAt", "entity"],
    properties: {
      id: { type: "string", description: "The event's id (also in `webhook-id`)" },
      event: { type: "string", const: entry.name },
      accountId: { type: "string" },
      occurredAt: { type: "string", format: "date-time" },
      entity: entry.schema ?? { type: "object", additionalProperties: true },
    },
  };
}

/**
 * The OpenAPI 3.1 `webhooks` section: one POST per event type, the request a receiver gets — its
 * headers, its body (the entity's schema inside the envelope) and the catalog's examples.
 */
export function webhooksSection(entries: readonly CatalogEntry[]) {
  return Object.fromEntries(
    entries.map((entry) => [
      entry.name,
      {
        post: {
          operationId: operationIdOf(entry.name),
          summary: entry.name,
          ...(entry.description ? { description: entry.description } : {}),
          tags: [entry.group ?? "Events"],
          ...(entry.deprecated ? { deprecated: true } : {}),
          // Not a credential: the receiver checks the signature headers.
          security: [],
          parameters: HEADERS,
          requestBody: {
            required: true,
            content: {
              "application/json": {
                schema: bodySchema(entry),
                ...(entry.examples.length > 0
                  ? {
                      examples: Object.fromEntries(
                        entry.examples.map((entity, i) => [
                          `example${i + 1}`,
                          {
                            value: {
                              id: "evt_01jd8x0000AbCdEfGhIjKlMn",
                              event: entry.name,
                              accountId: "acc_01jd8x0000AbCdEfGhIjKlMn",
                              occurredAt: "2026-12-01T00:00:00.000Z",
                              entity,
                            },
                          },
                        ]),
                      ),
                    }
                  : {}),
              },
            },
          },
          responses: {
            "2XX": { description: "Received: any 2xx answer ends the delivery" },
            "410": { description: "Gone: the webhook is disabled and nothing more is sent" },
          },
        },
      },
    ]),
  );
}

/** A document of only the account's catalog, for a receiver to generate its types from. */
export function catalogDocument(entries: readonly CatalogEntry[], origin: string) {
  return {
    openapi: "3.1.0",
    info: {
      title: "Keyhook webhooks",
      version: KEYHOOK_VERSION,
      description:
        "The events this account's webhooks can receive: each is a signed POST (Standard Webhooks) to your endpoint.",
    },
    servers: [{ url: origin }],
    paths: {},
    webhooks: webhooksSection(entries),
  };
}

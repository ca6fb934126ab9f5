import { z } from "@hono/zod-openapi";
import { ownJson } from "../../lib/encoding";
import { decryptSecret, encryptSecret } from "../../lib/secret-box";

/**
 * Custom request headers per endpoint (an `Authorization` the receiver checks, a routing key):
 * sealed at rest like the signing secret, shown by name only in the webhook and its attempts,
 * whole only by `GET /v1/webhooks/{id}/headers`. A header that would replace one of Keyhook's own
 * (the signature, the identity, the framing) is refused.
 */

const MAX_HEADERS = 20;
const MAX_TOTAL_CHARS = 4096;

/** Keyhook's own headers and what HTTP itself owns. */
const RESERVED = new Set([
  "content-type",
  "content-length",
  "content-encoding",
  "transfer-encoding",
  "user-agent",
  "host",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "expect",
]);
const RESERVED_PREFIXES = ["webhook-", "svix-", "x-keyhook-", "proxy-", "cf-"];

function reservedHeader(name: string) {
  const lower = name.toLowerCase();
  return RESERVED.has(lower) || RESERVED_PREFIXES.some((p) => lower.startsWith(p));
}

/** An RFC 9110 token. */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;

export const CustomHeaders = z
  .record(
    z.string(),
    z
      .string()
      .max(1000)
      .regex(/^[\t\x20-\x7e\x80-\xff]*$/, "no control characters or line breaks"),
  )
  .superRefine((headers, ctx) => {
    const names = Object.keys(headers);
    if (names.length > MAX_HEADERS) ctx.addIssue({ code: "custom", message: `at most ${MAX_HEADERS} headers` });
    const seen = new Set<string>();
    for (const name of names) {
      const lower = name.toLowerCase();
      if (!HEADER_NAME.test(name)) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: "not a valid header name (letters, digits, - and the like)",
        });
      } else if (reservedHeader(name)) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `${name} is Keyhook's own (signature, identity or framing) and cannot be set`,
        });
      }
      if (seen.has(lower)) ctx.addIssue({ code: "custom", path: [name], message: "the same header twice" });
      seen.add(lower);
    }
    const size = names.reduce((n, k) => n + k.length + (headers[k]?.length ?? 0), 0);
    if (size > MAX_TOTAL_CHARS)
      ctx.addIssue({ code: "custom", message: `at most ${MAX_TOTAL_CHARS} characters in all` });
  })
  .openapi({
    description:
      "Sent with every delivery. Keyhook's own headers (`webhook-*`, `x-keyhook-*`, `content-type`, `user-agent`…) cannot be set. Stored encrypted; the webhook shows the names only",
    example: { Authorization: "Bearer rcv_2f9…", "X-Tenant": "acme" },
  });

/** The additional data that binds sealed headers to their webhook (and tells them from its secret). */
const recordOf = (webhookId: string) => `${webhookId}:headers`;

export const sealHeaders = (headers: Record<string, string>, key: string, webhookId: string) =>
  encryptSecret(JSON.stringify(headers), key, recordOf(webhookId));

export async function openHeaders(sealed: string, key: string, webhookId: string): Promise<Record<string, string>> {
  return (ownJson(await decryptSecret(sealed, key, recordOf(webhookId))) ?? {}) as Record<string, string>;
}

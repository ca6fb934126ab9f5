import { iso } from "../../lib/schemas";
import { KEYHOOK_VERSION } from "../../lib/version";
import type { SentEvent } from "../events/sent-event";
import { githubSignatureWith, type SigningKeys, standardSignatureWith } from "../webhooks/signing";

/** Response bodies are read up to this many bytes, stored as text, never parsed. */
const RESPONSE_BODY_CAP = 4096;

/**
 * The body, byte for byte the same on every try of a delivery: `{id, event, accountId, occurredAt,
 * entity}` with the entity exactly as stored.
 */
export function deliveryBody(event: SentEvent): string {
  const head = JSON.stringify({
    id: event.id,
    event: event.type,
    accountId: event.accountId,
    occurredAt: iso(event.createdAt),
  });
  return `${head.slice(0, -1)},"entity":${event.entity}}`;
}

/**
 * Standard Webhooks headers, the same again as `svix-*` (Svix's own names: a receiver that reads
 * `svix-id`, `svix-timestamp` and `svix-signature` by name verifies unchanged), plus GitHub-style
 * `X-Keyhook-Signature`. During a rotation overlap `webhook-signature`
 * carries both signatures, space-separated (`v1,…` and `v1a,…` alike); the GitHub format has room
 * for one HMAC: the newest `v1` secret's, and none on a `v1a` endpoint past its overlap.
 */
export async function signedHeaders(
  event: Pick<SentEvent, "id" | "type">,
  webhookId: string,
  deliveryId: string,
  body: string,
  secrets: [SigningKeys, ...SigningKeys[]],
  timestamp: number,
): Promise<Record<string, string>> {
  const signatures = await Promise.all(secrets.map((s) => standardSignatureWith(s, event.id, timestamp, body)));
  const hmac = secrets.find((s) => s.scheme === "v1");
  return {
    "content-type": "application/json",
    "user-agent": `Keyhook-Webhooks/${KEYHOOK_VERSION}`,
    "webhook-id": event.id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signatures.join(" "),
    "svix-id": event.id,
    "svix-timestamp": String(timestamp),
    "svix-signature": signatures.join(" "),
    ...(hmac ? { "x-keyhook-signature": await githubSignatureWith(hmac, body) } : {}),
    "x-keyhook-event": event.type,
    "x-keyhook-webhook-id": webhookId,
    "x-keyhook-delivery": deliveryId,
  };
}

/**
 * The response body, up to the cap. A body that says it fits (Content-Length, uncompressed) is read whole — the
 * runtime's own `text()` costs a fraction of reading a stream in JavaScript, and receivers mostly
 * answer a few bytes; any other body is read chunk by chunk and cut off at the cap.
 */
async function readCapped(res: Response): Promise<string> {
  if (!res.body) return "";
  // Not when compressed: the runtime inflates the body, whose size then says nothing of the length.
  const length = res.headers.has("content-encoding")
    ? Number.NaN
    : Number(res.headers.get("content-length") ?? Number.NaN);
  if (length <= RESPONSE_BODY_CAP) return (await res.text()).slice(0, RESPONSE_BODY_CAP);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < RESPONSE_BODY_CAP) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => {});
  const all = new Uint8Array(Math.min(size, RESPONSE_BODY_CAP));
  let offset = 0;
  for (const c of chunks) {
    const part = c.subarray(0, all.length - offset);
    all.set(part, offset);
    offset += part.length;
    if (offset >= all.length) break;
  }
  return new TextDecoder().decode(all);
}

export interface HttpResult {
  status: number | null;
  headers: Record<string, string> | null;
  body: string | null;
  durationMs: number;
  /** null on success (2xx). */
  failure: string | null;
  retryAfter: string | null;
}

/** One POST: redirects are never followed (3xx is a failure), a timeout aborts it. */
export async function post(
  fetcher: typeof fetch,
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<HttpResult> {
  const started = Date.now();
  try {
    const res = await fetcher(url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await readCapped(res);
    const s = res.status;
    const failure = s >= 200 && s < 300 ? null : s >= 300 && s < 400 ? `redirect ${s} not followed` : `HTTP ${s}`;
    return {
      status: s,
      headers: Object.fromEntries(res.headers),
      body: text,
      durationMs: Date.now() - started,
      failure,
      retryAfter: res.headers.get("retry-after"),
    };
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    return {
      status: null,
      headers: null,
      body: null,
      durationMs: Date.now() - started,
      failure: timedOut
        ? `timeout after ${timeoutMs} ms`
        : `connection error: ${String(err instanceof Error ? err.message : err).slice(0, 200)}`,
      retryAfter: null,
    };
  }
}

import { toHex } from "../../lib/encoding";

const encoder = new TextEncoder();

async function hmac(key: Uint8Array, message: string): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, encoder.encode(message)));
}

/** `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
}

/** The HMAC key of a Standard Webhooks secret: base64-decode what follows `whsec_`. */
function standardKey(secret: string): Uint8Array {
  const body = secret.startsWith("whsec_") ? secret.slice(6) : secret;
  try {
    return Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  } catch {
    return encoder.encode(body); // a pasted secret that is not base64: its bytes, as Svix does
  }
}

/**
 * Standard Webhooks: `v1,` + base64 HMAC-SHA256 over `${id}.${timestamp}.${body}`.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
export async function standardSignature(secret: string, id: string, timestamp: number, body: string) {
  const mac = await hmac(standardKey(secret), `${id}.${timestamp}.${body}`);
  return `v1,${btoa(String.fromCharCode(...mac))}`;
}

/** GitHub style: `sha256=` + hex HMAC-SHA256 of the raw body, keyed with the whole secret string. */
export async function githubSignature(secret: string, body: string) {
  return `sha256=${toHex(await hmac(encoder.encode(secret), body))}`;
}

import { toHex } from "../../lib/encoding";

const encoder = new TextEncoder();

const hmacKey = (raw: Uint8Array) =>
  crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);

async function hmac(key: CryptoKey, message: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
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

/** A secret's two HMAC keys, imported once: a delivery signs with keys, not with the secret's text. */
export interface SigningKeys {
  standard: CryptoKey;
  github: CryptoKey;
}

export async function signingKeys(secret: string): Promise<SigningKeys> {
  const [standard, github] = await Promise.all([hmacKey(standardKey(secret)), hmacKey(encoder.encode(secret))]);
  return { standard, github };
}

/**
 * Standard Webhooks: `v1,` + base64 HMAC-SHA256 over `${id}.${timestamp}.${body}`.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
export async function standardSignatureWith(keys: SigningKeys, id: string, timestamp: number, body: string) {
  const mac = await hmac(keys.standard, `${id}.${timestamp}.${body}`);
  return `v1,${btoa(String.fromCharCode(...mac))}`;
}

/** GitHub style: `sha256=` + hex HMAC-SHA256 of the raw body, keyed with the whole secret string. */
export async function githubSignatureWith(keys: SigningKeys, body: string) {
  return `sha256=${toHex(await hmac(keys.github, body))}`;
}

export const standardSignature = async (secret: string, id: string, timestamp: number, body: string) =>
  standardSignatureWith(await signingKeys(secret), id, timestamp, body);

export const githubSignature = async (secret: string, body: string) =>
  githubSignatureWith(await signingKeys(secret), body);

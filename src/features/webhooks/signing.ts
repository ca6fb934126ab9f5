import { base64UrlDecode, toHex } from "../../lib/encoding";

const encoder = new TextEncoder();

/** The two Standard Webhooks schemes: `v1` HMAC-SHA256 with a shared secret, `v1a` Ed25519. */
export type SignatureScheme = "v1" | "v1a";

const hmacKey = (raw: Uint8Array) =>
  crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);

async function hmac(key: CryptoKey, message: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
}

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unbase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** PKCS #8 for an Ed25519 private key is this fixed prefix and the 32-byte seed (RFC 8410). */
const PKCS8_ED25519 = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

const ed25519Private = (seed: Uint8Array, extractable: boolean) =>
  crypto.subtle.importKey("pkcs8", new Uint8Array([...PKCS8_ED25519, ...seed]), { name: "Ed25519" }, extractable, [
    "sign",
  ]);

/** The scheme a stored secret signs with: `whsk_` is an Ed25519 signing key, anything else an HMAC secret. */
export const schemeOf = (secret: string): SignatureScheme => (secret.startsWith("whsk_") ? "v1a" : "v1");

/**
 * A new secret: `whsec_` + base64 of 32 random bytes (`v1`), or `whsk_` + base64 of an Ed25519 seed
 * and its public key, 64 bytes as libsodium and the Standard Webhooks libraries hold it (`v1a`).
 */
export async function generateWebhookSecret(scheme: SignatureScheme = "v1"): Promise<string> {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  if (scheme === "v1") return `whsec_${base64(seed)}`;
  return `whsk_${base64(new Uint8Array([...seed, ...(await publicKeyBytes(seed))]))}`;
}

async function publicKeyBytes(seed: Uint8Array): Promise<Uint8Array> {
  const jwk = (await crypto.subtle.exportKey("jwk", await ed25519Private(seed, true))) as JsonWebKey;
  const x = base64UrlDecode(jwk.x ?? "");
  if (x?.length !== 32) throw new Error("Ed25519 public key export failed");
  return x;
}

/** A `whsk_` key's seed, or null when it is not 64 bytes of base64 whose second half is the seed's public key. */
async function signingSeed(secret: string): Promise<Uint8Array | null> {
  let bytes: Uint8Array;
  try {
    bytes = unbase64(secret.slice("whsk_".length));
  } catch {
    return null;
  }
  if (bytes.length !== 64) return null;
  const seed = bytes.slice(0, 32);
  const expected = await publicKeyBytes(seed);
  return expected.every((b, i) => b === bytes[32 + i]) ? seed : null;
}

/** Why a `whsk_` secret cannot sign, or null when it can. */
export async function invalidSigningKey(secret: string): Promise<string | null> {
  return (await signingSeed(secret))
    ? null
    : "a whsk_ key is base64 of 64 bytes: an Ed25519 seed followed by its public key";
}

/**
 * What a receiver verifies with: the secret itself for `v1`; for `v1a` only the public key,
 * `whpk_` + base64 of its 32 bytes — the signing key never leaves Keyhook.
 */
export async function verificationKey(secret: string): Promise<string> {
  if (schemeOf(secret) === "v1") return secret;
  const seed = await signingSeed(secret);
  if (!seed) throw new Error("stored whsk_ key is malformed");
  return `whpk_${base64(await publicKeyBytes(seed))}`;
}

/** The HMAC key of a Standard Webhooks secret: base64-decode what follows `whsec_`. */
function standardKey(secret: string): Uint8Array {
  const body = secret.startsWith("whsec_") ? secret.slice(6) : secret;
  try {
    return unbase64(body);
  } catch {
    return encoder.encode(body); // a pasted secret that is not base64: its bytes, as Svix does
  }
}

/**
 * A secret's keys, imported once: a delivery signs with keys, not with the secret's text. `v1`: the
 * Standard Webhooks HMAC key and the GitHub-style one; `v1a`: the Ed25519 private key.
 */
export type SigningKeys =
  | { scheme: "v1"; standard: CryptoKey; github: CryptoKey }
  | { scheme: "v1a"; ed25519: CryptoKey };

export async function signingKeys(secret: string): Promise<SigningKeys> {
  if (schemeOf(secret) === "v1a") {
    const seed = await signingSeed(secret);
    if (!seed) throw new Error("stored whsk_ key is malformed");
    return { scheme: "v1a", ed25519: await ed25519Private(seed, false) };
  }
  const [standard, github] = await Promise.all([hmacKey(standardKey(secret)), hmacKey(encoder.encode(secret))]);
  return { scheme: "v1", standard, github };
}

/**
 * Standard Webhooks, over `${id}.${timestamp}.${body}`: `v1,` + base64 HMAC-SHA256, or `v1a,` +
 * base64 of the Ed25519 signature.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
export async function standardSignatureWith(keys: SigningKeys, id: string, timestamp: number, body: string) {
  const content = `${id}.${timestamp}.${body}`;
  if (keys.scheme === "v1a") {
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, keys.ed25519, encoder.encode(content));
    return `v1a,${base64(new Uint8Array(signature))}`;
  }
  return `v1,${base64(await hmac(keys.standard, content))}`;
}

/** GitHub style: `sha256=` + hex HMAC-SHA256 of the raw body, keyed with the whole secret string (`v1` only). */
export async function githubSignatureWith(keys: SigningKeys & { scheme: "v1" }, body: string) {
  return `sha256=${toHex(await hmac(keys.github, body))}`;
}

export const standardSignature = async (secret: string, id: string, timestamp: number, body: string) =>
  standardSignatureWith(await signingKeys(secret), id, timestamp, body);

export async function githubSignature(secret: string, body: string) {
  const keys = await signingKeys(secret);
  if (keys.scheme !== "v1") throw new Error("a v1a key has no GitHub-style signature");
  return githubSignatureWith(keys, body);
}

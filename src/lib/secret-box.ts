import { IsolateMap } from "./isolate-memory";

/**
 * AES-256-GCM for webhook signing secrets (they cannot be hashed: we need them to sign). A random
 * 96-bit IV per record and the record's id as additional data, so a ciphertext moved to another
 * row does not decrypt. The key is `WEBHOOK_SECRET_KEY`: base64 of 32 bytes, or any other string,
 * which is stretched with SHA-256.
 */
const encoder = new TextEncoder();
const keys = new IsolateMap<string, Promise<CryptoKey>>("webhook secret sealing keys", 16);

function aesKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = (async () => {
      let raw: Uint8Array | null = null;
      try {
        raw = Uint8Array.from(atob(secret), (c) => c.charCodeAt(0));
      } catch {
        raw = null;
      }
      const material =
        raw && raw.length === 32 ? raw : new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(secret)));
      return crypto.subtle.importKey("raw", material, "AES-GCM", false, ["encrypt", "decrypt"]);
    })();
    keys.set(secret, key);
  }
  return key;
}

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** `base64(iv).base64(ciphertext)`. */
export async function encryptSecret(plaintext: string, keySecret: string, recordId: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(recordId) },
    await aesKey(keySecret),
    encoder.encode(plaintext),
  );
  return `${b64(iv)}.${b64(new Uint8Array(ct))}`;
}

export async function decryptSecret(sealed: string, keySecret: string, recordId: string): Promise<string> {
  const [iv, ct] = sealed.split(".") as [string, string];
  const pt = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: unb64(iv), additionalData: encoder.encode(recordId) },
    await aesKey(keySecret),
    unb64(ct),
  );
  return new TextDecoder().decode(pt);
}

import { base64UrlDecode, base64UrlJson } from "./encoding";
import { IsolateMap } from "./isolate-memory";

const encoder = new TextEncoder();
const keyCache = new IsolateMap<string, Promise<CryptoKey>>("user token HS256 keys", 16);

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    keyCache.set(secret, key);
  }
  return key;
}

export type JwtResult = { ok: true; payload: Record<string, unknown> } | { ok: false; reason: "invalid" | "expired" };

/**
 * Verifies an HS256 JWT. Only `alg: HS256` is accepted (never `none`), the signature is checked
 * with `crypto.subtle.verify` (constant time), and `exp` is required.
 */
export async function verifyHs256(token: string, secret: string, nowSeconds: number): Promise<JwtResult> {
  const parts = token.split(".");
  if (parts.length !== 3 || !secret) return { ok: false, reason: "invalid" };
  const [h, p, s] = parts as [string, string, string];
  const header = base64UrlJson(h) as { alg?: unknown } | null;
  if (!header || typeof header !== "object" || header.alg !== "HS256") return { ok: false, reason: "invalid" };
  const signature = base64UrlDecode(s);
  if (!signature) return { ok: false, reason: "invalid" };
  const valid = await crypto.subtle.verify("HMAC", await hmacKey(secret), signature, encoder.encode(`${h}.${p}`));
  if (!valid) return { ok: false, reason: "invalid" };
  const payload = base64UrlJson(p);
  if (!payload || typeof payload !== "object" || Array.isArray(payload)) return { ok: false, reason: "invalid" };
  const { exp, nbf } = payload as { exp?: unknown; nbf?: unknown };
  if (typeof exp !== "number") return { ok: false, reason: "invalid" };
  if (exp <= nowSeconds) return { ok: false, reason: "expired" };
  if (typeof nbf === "number" && nbf > nowSeconds + 60) return { ok: false, reason: "invalid" };
  return { ok: true, payload: payload as Record<string, unknown> };
}

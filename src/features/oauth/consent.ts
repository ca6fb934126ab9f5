import { base64UrlDecode, base64UrlEncode, base64UrlJson } from "../../lib/encoding";
import { IsolateMap } from "../../lib/isolate-memory";

/**
 * The consent page's form carries the whole authorization request, signed (HMAC-SHA256 with a key
 * derived from `WEBHOOK_SECRET_KEY`, under its own label) and bound to a nonce in a `__Host-`
 * cookie, so the decision cannot be forged, replayed from another browser or altered in transit.
 */
export interface ConsentRequest {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  state: string | null;
  codeChallenge: string;
  user: {
    id: string;
    name: string;
    accountId: string;
    role: "admin" | "member";
    permissions: string[];
    profileId: string | null;
  };
  nonce: string;
  /** Unix ms after which the decision is refused. */
  expiresAt: number;
}

export const CONSENT_COOKIE = "__Host-keyhook_consent";
export const CONSENT_TTL_MS = 10 * 60 * 1000;

const encoder = new TextEncoder();
const keys = new IsolateMap<string, Promise<CryptoKey>>("oauth consent signing keys", 16);

function consentKey(secret: string) {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle
      .digest("SHA-256", encoder.encode(`keyhook oauth consent\0${secret}`))
      .then((raw) => crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]));
    keys.set(secret, key);
  }
  return key;
}

export async function signConsent(request: ConsentRequest, secret: string): Promise<string> {
  const body = base64UrlEncode(encoder.encode(JSON.stringify(request)));
  const mac = await crypto.subtle.sign("HMAC", await consentKey(secret), encoder.encode(body));
  return `${body}.${base64UrlEncode(new Uint8Array(mac))}`;
}

/** The request, if the signature holds, it has not expired and the cookie's nonce is its own. */
export async function openConsent(
  signed: string,
  secret: string,
  cookieNonce: string | undefined,
  now: number,
): Promise<ConsentRequest | null> {
  const [body, mac] = signed.split(".");
  const signature = mac ? base64UrlDecode(mac) : null;
  if (!body || !signature) return null;
  const valid = await crypto.subtle.verify("HMAC", await consentKey(secret), signature, encoder.encode(body));
  if (!valid) return null;
  const request = base64UrlJson(body) as ConsentRequest | null;
  if (!request) return null;
  if (request.expiresAt < now || !cookieNonce || cookieNonce !== request.nonce) return null;
  return request;
}

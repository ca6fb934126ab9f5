import { textNestsDeeper } from "./json-depth";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `n` characters of base62 from a CSPRNG, by rejection sampling (no modulo bias): ~5.95 bits each. */
export function randomBase62(n: number): string {
  let out = "";
  while (out.length < n) {
    const bytes = crypto.getRandomValues(new Uint8Array(n * 2));
    for (const b of bytes) {
      if (b < 248 && out.length < n) out += BASE62[b % 62];
    }
  }
  return out;
}

/** Fixed-width base62 of a non-negative integer below 62^width. */
export function toBase62(value: number, width: number): string {
  let out = "";
  let v = value;
  for (let i = 0; i < width; i++) {
    out = BASE62[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out;
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

export function toHex(buf: ArrayBuffer | Uint8Array): string {
  const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i] ?? 0];
  return out;
}

/** Unpadded base64url (RFC 4648 §5): PKCE challenges, signed consent requests. */
export function base64UrlEncode(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

export function base64UrlDecode(input: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(input)) return null;
  const b64 = input
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .padEnd(Math.ceil(input.length / 4) * 4, "=");
  try {
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

const utf8 = new TextEncoder();

/** CRC-32 (IEEE) of the UTF-8 bytes, as GitHub uses for its token checksums. */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  // Keys are ASCII, whose UTF-8 bytes are the char codes: no encoding on the hot path.
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) return crc32Bytes(utf8.encode(text));
    crc = (CRC_TABLE[(crc ^ code) & 0xff] ?? 0) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function crc32Bytes(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = (CRC_TABLE[(crc ^ (bytes[i] ?? 0)) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const TIME_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/** Time-ordered ids (`key_` + 10 chars of ms time + 14 random): sorting by id sorts by creation. */
export function newId(prefix: string, now = Date.now()): string {
  return `${idFloor(prefix, now)}${randomBase62(14)}`;
}

/** Sorts after every id made before `time` and before every id made from `time` on. */
export function idFloor(prefix: string, time: number): string {
  let out = "";
  let t = time;
  for (let i = 0; i < 10; i++) {
    out = TIME_ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return `${prefix}_${out}`;
}

/** The time (ms) a time-ordered id was made at: the inverse of {@link idFloor}. */
export function timeOfId(id: string): number {
  const digits = id.slice(id.indexOf("_") + 1, id.indexOf("_") + 11);
  let t = 0;
  for (const c of digits) t = t * 32 + TIME_ALPHABET.indexOf(c);
  return t;
}

/**
 * The JSON a base64url segment holds (a JWT's parts, a signed consent request); null if it holds
 * none, or JSON deeper than Keyhook's limit.
 */
export function base64UrlJson(segment: string): unknown {
  const bytes = base64UrlDecode(segment);
  return bytes ? ownJson(new TextDecoder().decode(bytes)) : null;
}

/**
 * JSON text this Worker wrote itself (a cached record): parsed, or null if it does not parse or
 * nests deeper than Keyhook's limit for JSON.
 */
export function ownJson(text: string): unknown {
  if (textNestsDeeper(text)) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

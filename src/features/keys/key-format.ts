import type { Settings } from "../../config";
import { crc32, randomBase62, toBase62 } from "../../lib/encoding";
import { IsolateMap } from "../../lib/isolate-memory";
import { memo } from "../../lib/memo";

const RANDOM_CHARS = 32; // 32 × log2(62) ≈ 190 bits of entropy
const CHECKSUM_CHARS = 6; // 62^6 > 2^32: the whole CRC-32 fits
const PREFIX_RANDOM_CHARS = 4; // shown in lists: "kh_live_Ab3x"

const checksum = (body: string) => toBase62(crc32(body), CHECKSUM_CHARS);

/** `<body><32 random base62><6-char base62 CRC-32 of what precedes>`: keys, OAuth tokens, client secrets. */
export function checksummedSecret(body: string): string {
  const withRandom = body + randomBase62(RANDOM_CHARS);
  return withRandom + checksum(withRandom);
}

/** Whether a secret made by `checksummedSecret` ends in the checksum of what precedes it. */
export const hasValidChecksum = (secret: string) =>
  secret.length > CHECKSUM_CHARS && checksum(secret.slice(0, -CHECKSUM_CHARS)) === secret.slice(-CHECKSUM_CHARS);

export interface NewApiKey {
  key: string;
  prefix: string;
  last4: string;
}

/** `kh_live_<32 base62><6-char base62 CRC-32 of what precedes>`. */
export function generateApiKey(settings: Settings): NewApiKey {
  const key = checksummedSecret(`${settings.keyPrefix}_${settings.keyEnv}_`);
  return {
    key,
    prefix: key.slice(0, settings.keyPrefix.length + settings.keyEnv.length + 2 + PREFIX_RANDOM_CHARS),
    last4: key.slice(-4),
  };
}

/** Whether a credential is shaped like one of our keys (prefix and underscore), checksum aside. */
export function looksLikeApiKey(credential: string, settings: Settings): boolean {
  return credential.startsWith(`${settings.keyPrefix}_`);
}

const shapes = new IsolateMap<string, RegExp>("key shapes by prefix", 64);
/** The key pattern for a prefix, compiled once (the prefix is a setting, so there is one or two). */
const shapeOf = (prefix: string) =>
  memo(shapes, prefix, () => new RegExp(`^${prefix}_(live|test)_[0-9A-Za-z]{${RANDOM_CHARS + CHECKSUM_CHARS},128}$`));

/**
 * Shape and checksum, checked before any lookup: a mistyped or made-up key never reaches D1.
 * Keys of either env are accepted, so changing `KEY_ENV` does not invalidate issued keys.
 */
export function isWellFormedApiKey(credential: string, settings: Settings): boolean {
  return shapeOf(settings.keyPrefix).test(credential) && hasValidChecksum(credential);
}

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** Bytes as base58 (Bitcoin's alphabet, leading zero bytes as `1`s): how Unkey writes a key. */
function toBase58(bytes: Uint8Array): string {
  const digits: number[] = [];
  for (const byte of bytes) {
    let carry = byte;
    for (let i = 0; i < digits.length; i++) {
      carry += (digits[i] ?? 0) << 8;
      digits[i] = carry % 58;
      carry = Math.floor(carry / 58);
    }
    while (carry > 0) {
      digits.push(carry % 58);
      carry = Math.floor(carry / 58);
    }
  }
  let zeros = "";
  for (const byte of bytes) {
    if (byte !== 0) break;
    zeros += "1";
  }
  return (
    zeros +
    digits
      .reverse()
      .map((d) => BASE58[d])
      .join("")
  );
}

/**
 * A key of an Unkey API as Unkey makes one: `<prefix>_<base58 of byteLength random bytes>` (no
 * prefix: the encoding alone), with its `start` (the prefix and 4 characters) to show in lists.
 */
export function unkeyStyleKey(prefix: string | undefined, byteLength: number) {
  const encoded = toBase58(crypto.getRandomValues(new Uint8Array(byteLength)));
  const head = prefix ? `${prefix}_` : "";
  return { key: head + encoded, start: head + encoded.slice(0, 4) };
}

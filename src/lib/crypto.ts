import { toHex } from "./encoding";

const encoder = new TextEncoder();

/** Hex SHA-256: the only form in which an API key is stored or looked up. */
export async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/**
 * Constant-time string comparison. Both sides are hashed first because
 * `timingSafeEqual` throws on unequal lengths and leaks length otherwise.
 * @see https://developers.cloudflare.com/workers/examples/protect-against-timing-attacks/
 */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(da, db);
}

import type { Settings } from "../../config";
import { checksummedSecret, hasValidChecksum } from "../keys/key-format";

/** The four OAuth secrets, each with its own tag after the key prefix: `kh_at_…`, `kh_rt_…`, … */
const TAGS = { access: "at", refresh: "rt", code: "ac", clientSecret: "cs" } as const;
export type OAuthSecretKind = keyof typeof TAGS;

/** `kh_at_<32 base62><CRC-32>`: opaque, checksummed like keys, stored as SHA-256 only. */
export const newOAuthSecret = (settings: Settings, kind: OAuthSecretKind) =>
  checksummedSecret(`${settings.keyPrefix}_${TAGS[kind]}_`);

/** Whether a credential is meant as an access token (by its tag; the checksum is checked next). */
export const looksLikeAccessToken = (credential: string, settings: Settings) =>
  credential.startsWith(`${settings.keyPrefix}_${TAGS.access}_`);

/** Tag, shape and checksum: a mistyped or made-up secret never reaches D1. */
export function isOAuthSecret(credential: string, settings: Settings, kind: OAuthSecretKind): boolean {
  const head = `${settings.keyPrefix}_${TAGS[kind]}_`;
  return (
    credential.startsWith(head) &&
    credential.length === head.length + 38 &&
    /^[0-9A-Za-z]+$/.test(credential.slice(head.length)) &&
    hasValidChecksum(credential)
  );
}

import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify } from "jose";
import { DependencyUnavailable } from "./dependencies";
import { IsolateMap } from "./isolate-memory";
import { type JwtResult, verifyHs256 } from "./jwt";
import { memo } from "./memo";

/** What an identity provider signs with: asymmetric only, so no shared secret to confuse them with. */
/** What verifying a user token needs of the deployment's settings (`config.ts` fills it in). */
export interface UserTokenSettings {
  /** The provider's JWKS; null = HS256 tokens only. */
  jwksUrl: string | null;
  /** Checked on provider tokens when set. */
  issuer: string | null;
  audience: string | null;
  /** A token naming an unknown `kid` fetches the key set again at most this often. */
  jwksCooldownSeconds: number;
  /** Where the account, role, permissions and profile are in the token (providers name them differently). */
  claims: { account: string; role: string; permissions: string; profile: string };
}

const PROVIDER_ALGORITHMS = ["RS256", "ES256", "EdDSA"];

/**
 * One key set per JWKS URL per isolate (jose keeps the fetched keys, and fetches again when a
 * token names a `kid` it does not have, at most once per cooldown).
 */
const keySets = new IsolateMap<string, ReturnType<typeof createRemoteJWKSet>>("identity provider key sets", 16);

const keySet = (s: UserTokenSettings & { jwksUrl: string }) =>
  memo(keySets, `${s.jwksUrl} ${s.jwksCooldownSeconds}`, () =>
    createRemoteJWKSet(new URL(s.jwksUrl), {
      cooldownDuration: s.jwksCooldownSeconds * 1000,
      cacheMaxAge: 10 * 60 * 1000,
      timeoutDuration: 5000,
    }),
  );

const invalid: JwtResult = { ok: false, reason: "invalid" };

/**
 * A user token: HS256 with `JWT_SECRET` (Keyhook's own), or RS256 / ES256 / EdDSA against the
 * provider's JWKS (`JWT_JWKS_URL`, with `JWT_ISSUER` and `JWT_AUDIENCE` checked when set). The
 * header's `alg` picks the path, and each path accepts only its own algorithms: an HS256 token
 * signed with the provider's public key meets `JWT_SECRET`, and `none` meets neither.
 */
export async function verifyUserToken(
  token: string,
  settings: UserTokenSettings,
  secret: string,
  nowSeconds: number,
): Promise<JwtResult> {
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    return invalid;
  }
  if (alg === "HS256") return verifyHs256(token, secret, nowSeconds);
  const { jwksUrl } = settings;
  if (!jwksUrl || typeof alg !== "string" || !PROVIDER_ALGORITHMS.includes(alg)) return invalid;
  try {
    const { payload } = await jwtVerify(token, keySet({ ...settings, jwksUrl }), {
      algorithms: PROVIDER_ALGORITHMS,
      issuer: settings.issuer ?? undefined,
      audience: settings.audience ?? undefined,
      requiredClaims: ["exp"],
      currentDate: new Date(nowSeconds * 1000),
    });
    return { ok: true, payload: payload as Record<string, unknown> };
  } catch (err) {
    if (err instanceof errors.JWTExpired) return { ok: false, reason: "expired" };
    // The provider's key set could not be fetched: not the caller's fault, and not a verdict.
    if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError)) {
      throw new DependencyUnavailable("JWKS", { cause: err });
    }
    return invalid; // a bad signature, an unknown kid, a wrong issuer or audience, not yet valid
  }
}

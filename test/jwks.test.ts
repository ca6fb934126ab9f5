import { env } from "cloudflare:workers";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { call, createAccount } from "./helpers/api";

// The Worker's JWT_JWKS_URL points at the loopback receiver's /jwks/main (vitest.config.ts); a test
// publishes the key set there, as an identity provider would.
const ISSUER = env.JWT_ISSUER;
const AUDIENCE = env.JWT_AUDIENCE;

type Alg = "RS256" | "ES256" | "EdDSA";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function providerKey(alg: Alg, kid: string) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, publicKey, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}
type ProviderKey = Awaited<ReturnType<typeof providerKey>>;

/**
 * Publishes the provider's key set, then waits out the refetch cooldown (JWT_JWKS_COOLDOWN_SECONDS=1
 * in the tests): a kid the Worker has not seen is fetched at most once per cooldown.
 */
async function publishKeys(...keys: ProviderKey[]) {
  await fetch(`${env.RECEIVER_URL}/__jwks/main`, {
    method: "POST",
    body: JSON.stringify({ keys: keys.map((k) => k.jwk) }),
  });
  await sleep(1100);
}

function token(
  key: ProviderKey,
  accountId: string,
  claims: Record<string, unknown> = {},
  edit?: (j: SignJWT) => SignJWT,
) {
  let jwt = new SignJWT({ account_id: accountId, role: "member", permissions: ["keys:read"], ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setSubject("user_42")
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("5m");
  if (edit) jwt = edit(jwt);
  return jwt.sign(key.privateKey);
}

const whoami = (jwt: string) => call("GET", "/v1/whoami", { token: jwt });

describe("user tokens from an identity provider (JWKS)", () => {
  it("RS256, ES256 and EdDSA tokens are verified against the provider's key set", async () => {
    const account = await createAccount();
    const keys = await Promise.all([
      providerKey("RS256", "rsa-1"),
      providerKey("ES256", "ec-1"),
      providerKey("EdDSA", "ed-1"),
    ]);
    await publishKeys(...keys);
    for (const key of keys) {
      const res = await whoami(await token(key, account.id));
      expect(res.status, key.alg).toBe(200);
      expect(res.body).toMatchObject({
        type: "user",
        id: "user_42",
        accountId: account.id,
        permissions: ["keys:read"],
      });
    }
  });

  it("a new kid is fetched when it first appears (key rotation at the provider)", async () => {
    const account = await createAccount();
    const first = await providerKey("ES256", `rot-a-${crypto.randomUUID()}`);
    await publishKeys(first);
    expect((await whoami(await token(first, account.id))).status).toBe(200);
    const next = await providerKey("ES256", `rot-b-${crypto.randomUUID()}`);
    await publishKeys(first, next);
    expect((await whoami(await token(next, account.id))).status).toBe(200);
    expect((await whoami(await token(first, account.id))).status).toBe(200);
  });

  it("permissions may be a space-separated string (an OAuth scope claim)", async () => {
    const account = await createAccount();
    const key = await providerKey("RS256", `scope-${crypto.randomUUID()}`);
    await publishKeys(key);
    const res = await whoami(await token(key, account.id, { permissions: "keys:read webhooks:read" }));
    expect(res.body.permissions).toEqual(["keys:read", "webhooks:read"]);
  });

  it("refuses with 401: unknown kid, expired, not yet valid, wrong issuer or audience, alg none, HS256 signed with the public key", async () => {
    const account = await createAccount();
    const key = await providerKey("RS256", `ref-${crypto.randomUUID()}`);
    await publishKeys(key);
    expect((await whoami(await token(key, account.id))).status).toBe(200);
    const stranger = await providerKey("RS256", `unknown-${crypto.randomUUID()}`);
    const now = Math.floor(Date.now() / 1000);
    const cases: Record<string, string> = {
      "unknown kid": await token(stranger, account.id),
      expired: await token(key, account.id, {}, (j) => j.setIssuedAt(now - 600).setExpirationTime(now - 60)),
      "not yet valid": await token(key, account.id, {}, (j) => j.setNotBefore(now + 3600)),
      "wrong issuer": await token(key, account.id, {}, (j) => j.setIssuer("https://evil.example/")),
      "wrong audience": await token(key, account.id, {}, (j) => j.setAudience("someone-else")),
      "no exp": await new SignJWT({ account_id: account.id, role: "member" })
        .setProtectedHeader({ alg: "RS256", kid: key.kid })
        .setSubject("user_42")
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .sign(key.privateKey),
    };
    // alg none: the same claims, no signature.
    const b64 = (v: unknown) => btoa(JSON.stringify(v)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const claims = {
      sub: "user_42",
      account_id: account.id,
      role: "admin",
      iss: ISSUER,
      aud: AUDIENCE,
      exp: now + 300,
    };
    cases["alg none"] = `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
    // Algorithm confusion: HS256 with the provider's public key (PEM and JWK forms) as the secret.
    for (const [form, secret] of [
      ["PEM", await exportSPKI(key.publicKey)],
      ["JWK", JSON.stringify(key.jwk)],
    ] as const) {
      cases[`HS256 signed with the public key (${form})`] = await new SignJWT(claims)
        .setProtectedHeader({ alg: "HS256", kid: key.kid })
        .sign(new TextEncoder().encode(secret));
    }
    for (const [name, jwt] of Object.entries(cases)) {
      const res = await whoami(jwt);
      expect(res.status, name).toBe(401);
      expect(res.body.error.code, name).toBe("invalid_credentials");
    }
    expect((await whoami(cases.expired!)).body.error.message).toBe("Token has expired");
  });
});

import { env } from "cloudflare:workers";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { compose } from "../src/compose";
import { sha256Hex } from "../src/lib/crypto";
import { ADMIN, call, createAccount, createKey, userToken } from "./helpers/api";
import { authorize, clientOptions, createClient, discover, insertGrant, raw, tokensFor } from "./helpers/oauth";

const REDIRECT = "https://client.example/cb";

// Every log line the Worker writes while these flows run: none may hold a token, code or secret.
const logged: string[] = [];
beforeAll(() => {
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logged.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
    });
  }
});
afterAll(() => {
  vi.restoreAllMocks();
  const leaks = logged.filter((line) => /kh_(at|rt|ac|cs)_[0-9A-Za-z]{38}|eyJ[\w-]+\.[\w-]+\./.test(line));
  expect(logged.length).toBeGreaterThan(0); // the reuse warnings at least
  expect(leaks).toEqual([]);
});

async function confidentialClient(accountId: string, scopes: string[], extra: Record<string, unknown> = {}) {
  const created = await createClient(accountId, { scopes, ...extra });
  const client: oauth.Client = { client_id: created.client.id };
  return { created, client, auth: oauth.ClientSecretBasic(created.clientSecret!) };
}

async function clientCredentials(
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  auth: oauth.ClientAuth,
  scope?: string,
) {
  const res = await oauth.clientCredentialsGrantRequest(as, client, auth, scope ? { scope } : {}, clientOptions);
  return oauth.processClientCredentialsResponse(as, client, res);
}

/** The RFC 6749 error an oauth4webapi call threw. */
async function oauthError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof oauth.ResponseBodyError) return err.error;
    // A 401 with a challenge (invalid_client): oauth4webapi throws before reading the body.
    if (err instanceof oauth.WWWAuthenticateChallengeError)
      return ((await err.response.json()) as { error: string }).error;
    throw err;
  }
  throw new Error("expected an OAuth error");
}

describe("OAuth metadata", () => {
  it("is discovered and validated by oauth4webapi (RFC 8414), and the protected resource names it (RFC 9728)", async () => {
    const as = await discover();
    expect(as.issuer).toBe("http://keyhook.test");
    expect(as.code_challenge_methods_supported).toEqual(["S256"]);
    expect(as.grant_types_supported).toContain("client_credentials");
    expect(as.registration_endpoint).toBe("http://keyhook.test/oauth/register");
    const resource = await call("GET", "/.well-known/oauth-protected-resource/mcp");
    expect(resource.body).toMatchObject({ resource: "http://keyhook.test/mcp", authorization_servers: [as.issuer] });
  });
});

describe("client_credentials", () => {
  it("issues a token that authenticates as the client, within its scopes, audited under its name", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth, created } = await confidentialClient(account.id, ["keys:read", "keys:write"]);
    const tokens = await clientCredentials(as, client, auth);
    expect(tokens.access_token).toMatch(/^kh_at_/);
    expect(tokens.expires_in).toBe(3600);
    expect(tokens.refresh_token).toBeUndefined();

    const me = await call("GET", "/v1/whoami", { token: tokens.access_token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ type: "oauth", id: created.client.id, name: "Test app", accountId: account.id });
    expect(me.body.permissions.sort()).toEqual(["keys:read", "keys:write"]);
    expect(me.headers.get("x-ratelimit-limit")).toBe("100");

    const key = await call("POST", "/v1/api-keys", {
      token: tokens.access_token,
      body: { name: "made by an app", scopes: [] },
    });
    expect(key.status).toBe(201);
    const audit = await call("GET", `/v1/audit-log?targetId=${key.body.apiKey.id}`, {
      token: ADMIN,
      accountId: account.id,
    });
    expect(audit.body.entries[0].actor).toEqual({ type: "oauth", id: created.client.id, name: "Test app" });

    // Outside its scopes: 403 like any principal.
    expect((await call("GET", "/v1/webhooks", { token: tokens.access_token })).status).toBe(403);
  });

  it("narrows to a requested scope, and refuses one the client may not have (invalid_scope)", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth } = await confidentialClient(account.id, ["keys:read", "webhooks:read"]);
    const narrow = await clientCredentials(as, client, auth, "keys:read");
    expect(narrow.scope).toBe("keys:read");
    expect(await oauthError(clientCredentials(as, client, auth, "keys:write"))).toBe("invalid_scope");
    expect(await oauthError(clientCredentials(as, client, auth, "*"))).toBe("invalid_scope");
  });

  it("refuses a wrong secret (401 invalid_client), a public client, and a disabled client's tokens at once", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth, created } = await confidentialClient(account.id, ["keys:read"]);
    const wrong = oauth.ClientSecretBasic(`${created.clientSecret!.slice(0, -4)}AAAA`);
    const res = await oauth.clientCredentialsGrantRequest(as, client, wrong, {}, clientOptions);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: "invalid_client" });

    const pub = await createClient(account.id, { type: "public", scopes: ["keys:read"] });
    expect(
      await oauthError(
        clientCredentials(as, { client_id: pub.client.id, token_endpoint_auth_method: "none" }, oauth.None()),
      ),
    ).toBe("unauthorized_client");

    const tokens = await clientCredentials(as, client, auth);
    expect((await call("GET", "/v1/whoami", { token: tokens.access_token })).status).toBe(200);
    const off = await call("PATCH", `/v1/oauth-clients/${created.client.id}`, {
      token: ADMIN,
      accountId: account.id,
      body: { enabled: false },
    });
    expect(off.body.client.enabled).toBe(false);
    expect((await call("GET", "/v1/whoami", { token: tokens.access_token })).status).toBe(401);
  });

  it("rotating the secret refuses the old one; deleting the client refuses its tokens", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth, created } = await confidentialClient(account.id, ["keys:read"]);
    const tokens = await clientCredentials(as, client, auth);
    const rotated = await call("POST", `/v1/oauth-clients/${created.client.id}/rotate-secret`, {
      token: ADMIN,
      accountId: account.id,
    });
    expect(rotated.status).toBe(200);
    expect(rotated.body.clientSecret).toMatch(/^kh_cs_/);
    expect(await oauthError(clientCredentials(as, client, auth))).toBe("invalid_client");
    await clientCredentials(as, client, oauth.ClientSecretPost(rotated.body.clientSecret));

    await call("DELETE", `/v1/oauth-clients/${created.client.id}`, { token: ADMIN, accountId: account.id });
    expect((await call("GET", "/v1/whoami", { token: tokens.access_token })).status).toBe(401);
    expect(
      (await call("GET", `/v1/oauth-clients/${created.client.id}`, { token: ADMIN, accountId: account.id })).status,
    ).toBe(404);
  });

  it("an expired access token is refused", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth } = await confidentialClient(account.id, ["keys:read"]);
    const tokens = await clientCredentials(as, client, auth);
    await env.DB.prepare("UPDATE oauth_tokens SET expires_at = 1 WHERE client_id = ?").bind(client.client_id).run();
    const me = await call("GET", "/v1/whoami", { token: tokens.access_token });
    expect(me.status).toBe(401);
    expect(me.body.error.message).toBe("Access token has expired");
  });
});

describe("authorization_code with PKCE", () => {
  it("acts for the user, within the granted scopes and what the user holds, on behalf of them in the audit log", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth, created } = await confidentialClient(account.id, [
      "keys:read",
      "keys:write",
      "webhooks:read",
    ]);
    const user = { accountId: account.id, sub: "user_ann", name: "Ann", permissions: ["keys:read", "keys:write"] };
    const tokens = await tokensFor(as, client, auth, {
      clientId: client.client_id,
      user,
      scope: "keys:write webhooks:read",
    });
    expect(tokens.refresh_token).toMatch(/^kh_rt_/);
    // The answer names what the token carries (RFC 6749 §5.1): webhooks:read is not Ann's to give.
    expect(tokens.scope!.split(" ").sort()).toEqual(["keys:read", "keys:write"]);

    const me = await call("GET", "/v1/whoami", { token: tokens.access_token });
    expect(me.body).toMatchObject({
      type: "oauth",
      id: created.client.id,
      onBehalfOf: { type: "user", id: "user_ann" },
    });
    // keys:write ∩ (keys:read, keys:write) = both (write includes read); webhooks:read is not Ann's to give.
    expect(me.body.permissions.sort()).toEqual(["keys:read", "keys:write"]);

    const key = await call("POST", "/v1/api-keys", {
      token: tokens.access_token,
      body: { name: "for Ann", scopes: [] },
    });
    const audit = await call("GET", `/v1/audit-log?targetId=${key.body.apiKey.id}`, {
      token: ADMIN,
      accountId: account.id,
    });
    expect(audit.body.entries[0]).toMatchObject({
      actor: { type: "oauth", id: created.client.id, name: "Test app" },
      onBehalfOf: { type: "user", id: "user_ann" },
    });
  });

  it("a user demoted, or a profile edited, takes effect on the next request", async () => {
    const account = await createAccount();
    const as = await discover();
    const profile = await call("POST", "/v1/permission-profiles", {
      token: ADMIN,
      accountId: account.id,
      body: { name: "Webhook reader", permissions: ["webhooks:read"] },
    });
    const { client, auth } = await confidentialClient(account.id, ["keys:read", "webhooks:read"]);
    const user = { accountId: account.id, sub: "user_bo", role: "admin" as const, profileId: profile.body.profile.id };
    const tokens = await tokensFor(as, client, auth, { clientId: client.client_id, user });
    const perms = async () => (await call("GET", "/v1/whoami", { token: tokens.access_token })).body.permissions.sort();
    expect(await perms()).toEqual(["keys:read", "webhooks:read"]);

    const demoted = await call("PUT", "/v1/oauth-users/user_bo", {
      token: ADMIN,
      accountId: account.id,
      body: { role: "member", permissions: [], profileId: profile.body.profile.id },
    });
    expect(demoted.body).toEqual({ grantsUpdated: 1 });
    expect(await perms()).toEqual(["webhooks:read"]);

    await call("PATCH", `/v1/permission-profiles/${profile.body.profile.id}`, {
      token: ADMIN,
      accountId: account.id,
      body: { permissions: ["audit:read"] },
    });
    expect(await perms()).toEqual([]);
  });

  it("refresh rotates; a refresh token used twice revokes the whole grant", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth } = await confidentialClient(account.id, ["keys:read"]);
    const user = { accountId: account.id, sub: "user_cy", permissions: ["keys:read"] };
    const first = await tokensFor(as, client, auth, { clientId: client.client_id, user });
    const refresh = async (token: string) =>
      oauth.processRefreshTokenResponse(
        as,
        client,
        await oauth.refreshTokenGrantRequest(as, client, auth, token, clientOptions),
      );
    const second = await refresh(first.refresh_token!);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await call("GET", "/v1/whoami", { token: second.access_token })).status).toBe(200);

    expect(await oauthError(refresh(first.refresh_token!))).toBe("invalid_grant");
    // The reuse took the grant with it: every token under it is refused from now on.
    expect((await call("GET", "/v1/whoami", { token: second.access_token })).status).toBe(401);
    expect(await oauthError(refresh(second.refresh_token!))).toBe("invalid_grant");
    const grants = await call("GET", "/v1/oauth-grants", { token: ADMIN, accountId: account.id });
    expect(grants.body.grants).toEqual([]);
  });

  it("refuses a wrong verifier, a different redirect URI, a reused code and another client's code", async () => {
    const account = await createAccount();
    const as = await discover();
    const a = await confidentialClient(account.id, ["keys:read"]);
    const b = await confidentialClient(account.id, ["keys:read"]);
    const user = { accountId: account.id, sub: "user_di", permissions: ["keys:read"] };
    const exchange = (c: typeof a, params: URLSearchParams, verifier: string, redirect = REDIRECT) =>
      oauth.authorizationCodeGrantRequest(as, c.client, c.auth, params, redirect, verifier, clientOptions);

    const flow = await authorize({ clientId: a.client.client_id, user });
    const params = oauth.validateAuthResponse(as, a.client, flow.callback, "st-1");
    const badVerifier = await exchange(a, params, oauth.generateRandomCodeVerifier());
    expect(await badVerifier.json()).toMatchObject({ error: "invalid_grant" });
    const otherRedirect = await exchange(a, params, flow.verifier, "https://client.example/other");
    expect(await otherRedirect.json()).toMatchObject({ error: "invalid_grant" });
    const otherClient = await exchange(b, params, flow.verifier);
    expect(await otherClient.json()).toMatchObject({ error: "invalid_grant" });

    // None of those consumed the code: the right client still can, once.
    const tokens = await oauth.processAuthorizationCodeResponse(as, a.client, await exchange(a, params, flow.verifier));
    expect((await call("GET", "/v1/whoami", { token: tokens.access_token })).status).toBe(200);
    const again = await exchange(a, params, flow.verifier);
    expect(await again.json()).toMatchObject({ error: "invalid_grant" });
    // A reused code revokes what it granted.
    expect((await call("GET", "/v1/whoami", { token: tokens.access_token })).status).toBe(401);
  });

  it("Deny sends access_denied back with the state; PKCE is required", async () => {
    const account = await createAccount();
    const { client } = await confidentialClient(account.id, ["keys:read"]);
    const denied = await authorize({
      clientId: client.client_id,
      user: { accountId: account.id },
      decision: "deny",
      state: "xyz",
    });
    expect(denied.callback.origin + denied.callback.pathname).toBe(REDIRECT);
    expect(denied.callback.searchParams.get("error")).toBe("access_denied");
    expect(denied.callback.searchParams.get("state")).toBe("xyz");

    const noPkce = await raw(
      "GET",
      `/oauth/authorize?response_type=code&client_id=${client.client_id}&redirect_uri=${encodeURIComponent(REDIRECT)}&state=s`,
    );
    expect(noPkce.status).toBe(302);
    const back = new URL(noPkce.headers.get("location")!);
    expect(back.searchParams.get("error")).toBe("invalid_request");
    const plain = await raw(
      "GET",
      `/oauth/authorize?response_type=code&client_id=${client.client_id}&code_challenge=${"a".repeat(43)}&code_challenge_method=plain`,
    );
    expect(new URL(plain.headers.get("location")!).searchParams.get("error")).toBe("invalid_request");
  });

  it("never redirects to an unknown client's or an unregistered redirect URI: an error page instead", async () => {
    const account = await createAccount();
    const { client } = await confidentialClient(account.id, ["keys:read"]);
    const unknown = await raw(
      "GET",
      `/oauth/authorize?client_id=ocl_nope&redirect_uri=${encodeURIComponent("https://evil.example/")}`,
    );
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get("location")).toBeNull();
    expect(unknown.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(unknown.text).toContain("Unknown or disabled client");
    const evil = await raw(
      "GET",
      `/oauth/authorize?response_type=code&client_id=${client.client_id}&redirect_uri=${encodeURIComponent("https://evil.example/cb")}`,
    );
    expect(evil.status).toBe(400);
    expect(evil.headers.get("location")).toBeNull();
    expect(evil.text).toContain("not registered");
  });

  it("the consent page has the admin page's CSP, its form allowed to end at the client's redirect URI only", async () => {
    const account = await createAccount();
    const { client } = await confidentialClient(account.id, ["keys:read"]);
    const { consent } = await authorize({ clientId: client.client_id, user: { accountId: account.id } });
    const csp = consent.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp.endsWith("form-action 'self' https://client.example")).toBe(true);
    expect(consent.text).not.toMatch(/<script|https?:\/\/(?!client\.example)[^"]*\.(js|css)/);
  });

  it("a consent form cannot be replayed without its cookie or altered", async () => {
    const account = await createAccount();
    const { client } = await confidentialClient(account.id, ["keys:read"]);
    const { consent } = await authorize({ clientId: client.client_id, user: { accountId: account.id } });
    const request = /name="request" value="([^"]+)"/.exec(consent.text)![1]!;
    const post = (body: Record<string, string>, cookie?: string) =>
      raw("POST", "/oauth/authorize", {
        body: new URLSearchParams(body).toString(),
        headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
      });
    expect((await post({ request, decision: "allow" })).status).toBe(400);
    const cookie = consent.headers.get("set-cookie")!.split(";")[0]!;
    const [body, mac] = request.split(".");
    expect((await post({ request: `${body}x.${mac}`, decision: "allow" }, cookie)).status).toBe(400);
  });
});

describe("revocation and introspection", () => {
  it("RFC 7009 revokes an access token, or a refresh token with its grant; RFC 7662 tells active from not", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth } = await confidentialClient(account.id, ["keys:read"]);
    const user = { accountId: account.id, sub: "user_ed", permissions: ["keys:read"] };
    const tokens = await tokensFor(as, client, auth, { clientId: client.client_id, user });
    const introspect = async (token: string) =>
      oauth.processIntrospectionResponse(
        as,
        client,
        await oauth.introspectionRequest(as, client, auth, token, clientOptions),
      );
    expect(await introspect(tokens.access_token)).toMatchObject({
      active: true,
      client_id: client.client_id,
      sub: "user_ed",
      scope: "keys:read",
    });
    expect(await introspect(tokens.refresh_token!)).toMatchObject({ active: true, token_type: "refresh_token" });

    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, auth, tokens.access_token, clientOptions),
    );
    expect((await call("GET", "/v1/whoami", { token: tokens.access_token })).status).toBe(401);
    expect(await introspect(tokens.access_token)).toEqual({ active: false });

    const more = await tokensFor(as, client, auth, { clientId: client.client_id, user });
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, auth, more.refresh_token!, clientOptions),
    );
    expect((await call("GET", "/v1/whoami", { token: more.access_token })).status).toBe(401);
  });

  it("introspection by a key with keys:verify sees its account's tokens only; another client sees nothing", async () => {
    const a = await createAccount();
    const b = await createAccount();
    const as = await discover();
    const ca = await confidentialClient(a.id, ["keys:read"]);
    const cb = await confidentialClient(a.id, ["keys:read"]);
    const tokens = await clientCredentials(as, ca.client, ca.auth);
    const byKey = async (key: string) =>
      raw("POST", "/oauth/introspect", {
        body: new URLSearchParams({ token: tokens.access_token }).toString(),
        headers: { authorization: `Bearer ${key}`, "content-type": "application/x-www-form-urlencoded" },
      });
    const mine = await createKey(a.id, { scopes: ["keys:verify"] });
    expect(JSON.parse((await byKey(mine.key)).text)).toMatchObject({ active: true, account_id: a.id });
    const theirs = await createKey(b.id, { scopes: ["keys:verify"] });
    expect(JSON.parse((await byKey(theirs.key)).text)).toEqual({ active: false });
    const cannot = await createKey(a.id, { scopes: ["keys:read"] });
    expect((await byKey(cannot.key)).status).toBe(403);
    const other = await oauth.processIntrospectionResponse(
      as,
      cb.client,
      await oauth.introspectionRequest(as, cb.client, cb.auth, tokens.access_token, clientOptions),
    );
    expect(other).toEqual({ active: false });
  });

  it("verify (HTTP) understands access tokens", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth } = await confidentialClient(account.id, ["keys:read"]);
    const tokens = await clientCredentials(as, client, auth);
    const verifier = await createKey(account.id, { scopes: ["keys:verify"] });
    const ok = await call("POST", "/v1/keys/verify", { apiKey: verifier.key, body: { key: tokens.access_token } });
    expect(ok.body).toMatchObject({ valid: true, code: "VALID", oauth: { clientId: client.client_id, userId: null } });
    const scoped = await call("POST", "/v1/keys/verify", {
      apiKey: verifier.key,
      body: { key: tokens.access_token, scopes: ["keys:write"] },
    });
    expect(scoped.body).toMatchObject({ valid: false, code: "INSUFFICIENT_SCOPE" });
  });
});

describe("grants, users and accounts", () => {
  it("a user lists and revokes the apps they authorized; not someone else's", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth } = await confidentialClient(account.id, ["keys:read"]);
    const ann = { accountId: account.id, sub: "user_ann", permissions: ["keys:read"] };
    const bob = { accountId: account.id, sub: "user_bob", permissions: ["keys:read"] };
    const annTokens = await tokensFor(as, client, auth, { clientId: client.client_id, user: ann });
    await tokensFor(as, client, auth, { clientId: client.client_id, user: bob });
    const annJwt = await userToken(ann);
    const mine = await call("GET", "/v1/oauth-grants", { token: annJwt });
    expect(mine.body.grants.map((g: any) => g.userId)).toEqual(["user_ann"]);
    expect(mine.body.grants[0].client).toEqual({ id: client.client_id, name: "Test app" });
    const all = await call("GET", "/v1/oauth-grants", { token: ADMIN, accountId: account.id });
    expect(all.body.grants).toHaveLength(2);
    const bobs = all.body.grants.find((g: any) => g.userId === "user_bob");
    expect((await call("DELETE", `/v1/oauth-grants/${bobs.id}`, { token: annJwt })).status).toBe(404);
    expect((await call("DELETE", `/v1/oauth-grants/${mine.body.grants[0].id}`, { token: annJwt })).status).toBe(200);
    expect((await call("GET", "/v1/whoami", { token: annTokens.access_token })).status).toBe(401);
  });

  it("two revokes of one grant racing: one deletes it, and only that one is audited", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth } = await confidentialClient(account.id, ["keys:read"]);
    const user = { accountId: account.id, sub: "user_rae", permissions: ["keys:read"] };
    await tokensFor(as, client, auth, { clientId: client.client_id, user });
    const admin = { token: ADMIN, accountId: account.id };
    const [grant] = (await call("GET", "/v1/oauth-grants", admin)).body.grants;
    const answers = await Promise.all([1, 2, 3].map(() => call("DELETE", `/v1/oauth-grants/${grant.id}`, admin)));
    expect(answers.map((a) => a.status).filter((s) => s === 200)).toHaveLength(1);
    const entries = (await call("GET", "/v1/audit-log", admin)).body.entries;
    const revoked = entries.filter((e: any) => e.action === "oauth_grant.revoked" && e.target.id === grant.id);
    expect(revoked).toHaveLength(1);
  });

  it("a client, grant or token of one account is never usable or visible in another", async () => {
    const a = await createAccount();
    const b = await createAccount();
    const as = await discover();
    const { client, auth, created } = await confidentialClient(a.id, ["keys:read"]);
    expect(
      (await call("GET", `/v1/oauth-clients/${created.client.id}`, { token: ADMIN, accountId: b.id })).status,
    ).toBe(404);
    expect((await call("GET", "/v1/oauth-clients", { token: ADMIN, accountId: b.id })).body.clients).toEqual([]);
    // A user of B cannot authorize A's client: an error page, no redirect.
    const query = new URLSearchParams({
      response_type: "code",
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
      code_challenge_method: "S256",
      login_token: await userToken({ accountId: b.id }),
    });
    const page = await raw("GET", `/oauth/authorize?${query}`);
    expect(page.status).toBe(400);
    expect(page.text).toContain("not available to your account");
    const tokens = await clientCredentials(as, client, auth);
    const me = await call("GET", "/v1/whoami", { token: tokens.access_token, accountId: b.id });
    expect(me.body.accountId).toBe(a.id);
    const grantsInB = await call("GET", "/v1/oauth-grants", { token: ADMIN, accountId: b.id });
    expect(grantsInB.body.grants).toEqual([]);
  });

  it("what a user holds is set per account: another account's call is 404 and changes nothing", async () => {
    const victim = await createAccount();
    const intruder = await createAccount();
    const { grantId } = await insertGrant(victim.id, "user_shared_name");
    const read = () => env.DB.prepare("SELECT * FROM oauth_grants WHERE id = ?").bind(grantId).first();
    const before = await read();
    const res = await call("PUT", "/v1/oauth-users/user_shared_name", {
      token: ADMIN,
      accountId: intruder.id,
      body: { role: "admin" },
    });
    expect(res.status).toBe(404);
    expect(await read()).toEqual(before);
  });

  it("consent is audited as the user's, and a grant revoked for reuse as Keyhook's", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth } = await confidentialClient(account.id, ["keys:read"]);
    const user = { accountId: account.id, sub: "user_gus", name: "Gus", permissions: ["keys:read"] };
    const tokens = await tokensFor(as, client, auth, { clientId: client.client_id, user });
    const refresh = () => oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, clientOptions);
    await refresh();
    await refresh();
    const entries = (await call("GET", "/v1/audit-log", { token: ADMIN, accountId: account.id })).body.entries;
    const created = entries.find((e: any) => e.action === "oauth_grant.created");
    expect(created.actor).toEqual({ type: "user", id: "user_gus", name: "Gus" });
    expect(created.target).toMatchObject({ type: "oauth_client", id: client.client_id });
    const revoked = entries.find((e: any) => e.action === "oauth_grant.revoked");
    expect(revoked.actor.type).toBe("system");
    expect(JSON.stringify(entries)).not.toContain(tokens.refresh_token);
  });

  it("no one gives a client more than they hold, or a user more than they hold", async () => {
    const account = await createAccount();
    const { key } = await createKey(account.id, { scopes: ["oauth:write", "keys:read"] });
    const res = await call("POST", "/v1/oauth-clients", { apiKey: key, body: { name: "x", scopes: ["keys:write"] } });
    expect(res.status).toBe(403);
    expect(res.body.error.details.missing).toEqual(["keys:write"]);
    const admin = await call("PUT", "/v1/oauth-users/u1", { apiKey: key, body: { role: "admin" } });
    expect(admin.status).toBe(403);
  });

  it("deleting the account refuses its OAuth tokens at once", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth } = await confidentialClient(account.id, ["keys:read"]);
    const tokens = await clientCredentials(as, client, auth);
    expect((await call("DELETE", `/v1/accounts/${account.id}`, { token: ADMIN })).status).toBe(200);
    expect((await call("GET", "/v1/whoami", { token: tokens.access_token })).status).toBe(401);
    expect(await oauthError(clientCredentials(as, client, auth))).toBe("invalid_client");
  });
});

describe("the cron", () => {
  it("deletes tokens a day past their expiry, and dynamic clients no one authorized after a day", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth } = await confidentialClient(account.id, ["keys:read"]);
    await clientCredentials(as, client, auth);
    const fresh = await clientCredentials(as, client, auth);
    const day = 86_400_000;
    const freshHash = await sha256Hex(fresh.access_token);
    await env.DB.prepare("UPDATE oauth_tokens SET expires_at = ? WHERE client_id = ? AND hash != ?")
      .bind(Date.now() - day - 1000, client.client_id, freshHash)
      .run();
    const unused = await call("POST", "/oauth/register", { body: { redirect_uris: ["https://a.example/cb"] } });
    await env.DB.prepare("UPDATE oauth_clients SET created_at = ? WHERE id = ?")
      .bind(Date.now() - day - 1000, unused.body.client_id)
      .run();
    await compose(env, { waitUntil: () => {} }).oauth.prune();
    const left = await env.DB.prepare("SELECT COUNT(*) AS n FROM oauth_tokens WHERE client_id = ?")
      .bind(client.client_id)
      .first();
    expect(left).toEqual({ n: 1 });
    expect((await call("GET", "/v1/whoami", { token: fresh.access_token })).status).toBe(200);
    const gone = await env.DB.prepare("SELECT id FROM oauth_clients WHERE id = ?").bind(unused.body.client_id).first();
    expect(gone).toBeNull();
  });
});

describe("dynamic registration (RFC 7591)", () => {
  it("is bounded per address: the 21st registration within an hour is 429", async () => {
    const headers = { "cf-connecting-ip": `203.0.113.${Math.floor(Math.random() * 250)}` };
    const body = { redirect_uris: ["https://a.example/cb"] };
    for (let i = 0; i < 20; i++) expect((await call("POST", "/oauth/register", { headers, body })).status).toBe(201);
    const refused = await call("POST", "/oauth/register", { headers, body });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    const elsewhere = await call("POST", "/oauth/register", { headers: { "cf-connecting-ip": "198.18.0.1" }, body });
    expect(elsewhere.status).toBe(201);
  });

  it("registers public PKCE clients with https or loopback redirect URIs only", async () => {
    const register = (body: unknown) =>
      call("POST", "/oauth/register", {
        body: body as Record<string, unknown>,
        headers: { "user-agent": "claude-code/2.0", "cf-connecting-ip": "198.18.0.7" },
      });
    const ok = await register({ client_name: "Claude", redirect_uris: ["http://127.0.0.1:33418/callback"] });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ token_endpoint_auth_method: "none", client_name: "Claude" });
    // The operator sees it in the deployment's audit log: what registered itself, and from where.
    const log = (await call("GET", "/v1/deployment/audit-log?limit=100", { token: ADMIN })).body.entries;
    const entry = log.find((e: any) => e.target.id === ok.body.client_id);
    expect(entry).toMatchObject({
      action: "oauth_client.registered",
      actor: { type: "system", id: "oauth-register" },
      target: { type: "oauth_client", name: "Claude" },
      ip: "198.18.0.7",
      userAgent: "claude-code/2.0",
    });
    expect(entry.changes.redirectUris.after).toEqual(["http://127.0.0.1:33418/callback"]);
    // A refused registration writes nothing.
    const newest = log[0].id;
    expect((await register({ redirect_uris: ["http://evil.example/cb"] })).body.error).toBe("invalid_redirect_uri");
    expect(
      (await register({ redirect_uris: ["https://a.example/cb"], token_endpoint_auth_method: "client_secret_basic" }))
        .body.error,
    ).toBe("invalid_client_metadata");
    expect((await register({ redirect_uris: "nope" })).body.error).toBe("invalid_client_metadata");
    expect((await call("GET", "/v1/deployment/audit-log?limit=1", { token: ADMIN })).body.entries[0].id).toBe(newest);

    // A user of any account may then authorize it, for their own account; the loopback port may differ.
    const account = await createAccount();
    const as = await discover();
    const client: oauth.Client = { client_id: ok.body.client_id, token_endpoint_auth_method: "none" };
    const tokens = await tokensFor(as, client, oauth.None(), {
      clientId: client.client_id,
      user: { accountId: account.id, sub: "user_fay", permissions: ["keys:read"] },
      redirectUri: "http://127.0.0.1:40000/callback",
      scope: "keys:read",
    });
    const me = await call("GET", "/v1/whoami", { token: tokens.access_token });
    expect(me.body).toMatchObject({ type: "oauth", name: "Claude", accountId: account.id, permissions: ["keys:read"] });
  });
});

describe("deployment-wide clients (the operator's)", () => {
  const create = (body: Record<string, unknown>, token = ADMIN) =>
    call("POST", "/v1/deployment/oauth-clients", { token, body });

  it("a public client every account's users may authorize, each grant in the user's own account", async () => {
    const a = await createAccount();
    const b = await createAccount();
    const made = await create({ name: "Keyhook for VS Code", redirectUris: [REDIRECT], scopes: ["keys:read"] });
    expect(made.status).toBe(201);
    expect(made.body.client).toMatchObject({ type: "public", secretLast4: null, dynamic: false, enabled: true });
    const id = made.body.client.id;
    // No account sees it as its own; the operator's deployment list does.
    expect((await call("GET", `/v1/oauth-clients/${id}`, { token: ADMIN, accountId: a.id })).status).toBe(404);
    const listed = await call("GET", "/v1/deployment/oauth-clients?limit=100", { token: ADMIN });
    expect(listed.body.clients.map((c: any) => c.id)).toContain(id);

    const as = await discover();
    const client: oauth.Client = { client_id: id, token_endpoint_auth_method: "none" };
    const tokens = [];
    for (const account of [a, b]) {
      const user = { accountId: account.id, sub: "user_gil", permissions: ["keys:read"] };
      const { consent } = await authorize({ clientId: id, user });
      expect(consent.text).not.toContain("registered itself"); // the operator's, not a self-registration
      expect(consent.text).toContain("https://client.example");
      tokens.push(await tokensFor(as, client, oauth.None(), { clientId: id, user }));
    }
    for (const [i, account] of [a, b].entries()) {
      const me = await call("GET", "/v1/whoami", { token: tokens[i]!.access_token });
      expect(me.body).toMatchObject({ type: "oauth", name: "Keyhook for VS Code", accountId: account.id });
      const grants = await call("GET", "/v1/oauth-grants", { token: ADMIN, accountId: account.id });
      expect(grants.body.grants.map((g: any) => g.client.id)).toEqual([id]);
    }

    // Disabled: every account's tokens are refused at once; enabled again, accepted.
    const off = await call("PATCH", `/v1/deployment/oauth-clients/${id}`, { token: ADMIN, body: { enabled: false } });
    expect(off.body.client.enabled).toBe(false);
    expect((await call("GET", "/v1/whoami", { token: tokens[0]!.access_token })).status).toBe(401);
    await call("PATCH", `/v1/deployment/oauth-clients/${id}`, { token: ADMIN, body: { enabled: true } });
    expect((await call("GET", "/v1/whoami", { token: tokens[1]!.access_token })).status).toBe(200);

    // Deleted: its grants in both accounts go with it.
    expect((await call("DELETE", `/v1/deployment/oauth-clients/${id}`, { token: ADMIN })).status).toBe(200);
    for (const [i, account] of [a, b].entries()) {
      expect((await call("GET", "/v1/whoami", { token: tokens[i]!.access_token })).status).toBe(401);
      const grants = await call("GET", "/v1/oauth-grants", { token: ADMIN, accountId: account.id });
      expect(grants.body.grants).toEqual([]);
    }
    expect((await call("GET", `/v1/deployment/oauth-clients/${id}`, { token: ADMIN })).status).toBe(404);
  });

  it("is the operator's alone; public only, with redirect URIs; an account's client is not one of them", async () => {
    const account = await createAccount();
    const { key } = await createKey(account.id, { scopes: ["oauth:read", "oauth:write"] });
    const body = { name: "x", redirectUris: [REDIRECT], scopes: ["keys:read"] };
    const asKey = await call("POST", "/v1/deployment/oauth-clients", { apiKey: key, body });
    expect(asKey.status).toBe(403);
    expect(asKey.body.error.code).toBe("insufficient_scope");
    const admin = await userToken({ accountId: account.id, role: "admin" });
    expect((await create(body, admin)).status).toBe(403);
    expect((await call("GET", "/v1/deployment/oauth-clients", { token: admin })).status).toBe(403);

    expect((await create({ ...body, type: "confidential" })).body.error.code).toBe("validation_failed");
    expect((await create({ name: "x", scopes: ["keys:read"] })).body.error.code).toBe("validation_failed");
    expect((await create({ ...body, redirectUris: ["http://evil.example/cb"] })).body.error.code).toBe(
      "validation_failed",
    );

    const own = await createClient(account.id, { scopes: ["keys:read"] });
    expect((await call("GET", `/v1/deployment/oauth-clients/${own.client.id}`, { token: ADMIN })).status).toBe(404);
    expect((await call("DELETE", `/v1/deployment/oauth-clients/${own.client.id}`, { token: ADMIN })).status).toBe(404);
  });

  it("the deployment list shows dynamic registrations too, and their consent page says they named themselves", async () => {
    const registered = await call("POST", "/oauth/register", {
      headers: { "cf-connecting-ip": "198.18.7.7" },
      body: { client_name: "Totally Official App", redirect_uris: ["https://app.example/cb"] },
    });
    const id = registered.body.client_id;
    const got = await call("GET", `/v1/deployment/oauth-clients/${id}`, { token: ADMIN });
    expect(got.body.client).toMatchObject({ name: "Totally Official App", dynamic: true, type: "public" });
    const account = await createAccount();
    const { consent } = await authorize({
      clientId: id,
      user: { accountId: account.id, sub: "user_hal", permissions: ["keys:read"] },
      redirectUri: "https://app.example/cb",
      scope: "keys:read",
    });
    expect(consent.text).toContain("registered itself");
    expect(consent.text).toContain("https://app.example");
  });
});

describe("four gaps an attacker found (introspection, impersonate, consent replay, the granted scope)", () => {
  const form = (body: Record<string, string>, headers: Record<string, string> = {}) => ({
    body: new URLSearchParams(body).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
  });

  it("introspection refuses a public client that proved nothing: 401 invalid_client, and the refresh token is not spent", async () => {
    const account = await createAccount();
    const as = await discover();
    const app = await createClient(account.id, { type: "public", scopes: ["keys:read"] });
    const client: oauth.Client = { client_id: app.client.id, token_endpoint_auth_method: "none" };
    const user = { accountId: account.id, sub: "user_gil", permissions: ["keys:read"] };
    const tokens = await tokensFor(as, client, oauth.None(), { clientId: client.client_id, user });
    for (const token of [tokens.access_token, tokens.refresh_token!]) {
      const res = await raw("POST", "/oauth/introspect", form({ token, client_id: app.client.id }));
      expect(res.status).toBe(401);
      expect(JSON.parse(res.text)).toMatchObject({ error: "invalid_client" });
      expect(res.headers.get("www-authenticate")).toMatch(/^Basic /);
      expect(res.text).not.toContain("user_gil");
    }
    // What the metadata says introspection takes, and nothing else.
    expect(as.introspection_endpoint_auth_methods_supported).toEqual([
      "client_secret_basic",
      "client_secret_post",
      "bearer",
    ]);
    // The refresh token was only looked at, never used: the grant is whole and it still refreshes, once.
    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, clientOptions),
    );
    expect((await call("GET", "/v1/whoami", { token: refreshed.access_token })).status).toBe(200);
    // A confidential client with its secret still may.
    const conf = await confidentialClient(account.id, ["keys:read"]);
    const own = await clientCredentials(as, conf.client, conf.auth);
    const seen = await oauth.processIntrospectionResponse(
      as,
      conf.client,
      await oauth.introspectionRequest(as, conf.client, conf.auth, own.access_token, clientOptions),
    );
    expect(seen).toMatchObject({ active: true });
  });

  it("impersonate is never an app's: refused at registration, client creation, authorize and client_credentials; * leaves it out", async () => {
    const account = await createAccount();
    const as = await discover();
    const headers = { "cf-connecting-ip": "198.18.0.21" };
    // Dynamic registration.
    const asked = await call("POST", "/oauth/register", {
      headers,
      body: { redirect_uris: ["https://a.example/cb"], scope: "keys:read impersonate" },
    });
    expect(asked.status).toBe(400);
    expect(asked.body.error).toBe("invalid_scope");
    const everything = await call("POST", "/oauth/register", {
      headers,
      body: { redirect_uris: ["https://a.example/cb"] },
    });
    expect(everything.status).toBe(201);
    expect(everything.body.scope.split(" ")).not.toContain("impersonate");
    expect(everything.body.scope.split(" ")).not.toContain("*");
    // An account's client and a deployment client.
    for (const [path, accountId] of [
      ["/v1/oauth-clients", account.id],
      ["/v1/deployment/oauth-clients", undefined],
    ] as const) {
      const res = await call("POST", path, {
        token: ADMIN,
        accountId,
        body: { name: "Sneaky", type: "public", redirectUris: [REDIRECT], scopes: ["impersonate"] },
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("validation_failed");
    }
    // A client allowed everything (`*`), used by an admin who holds everything.
    const star = await confidentialClient(account.id, ["*"]);
    const refused = await raw(
      "GET",
      `/oauth/authorize?${new URLSearchParams({
        response_type: "code",
        client_id: star.client.client_id,
        redirect_uri: REDIRECT,
        state: "s",
        scope: "impersonate",
        code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
        code_challenge_method: "S256",
      })}`,
    );
    expect(refused.status).toBe(302);
    expect(new URL(refused.headers.get("location")!).searchParams.get("error")).toBe("invalid_scope");
    expect(await oauthError(clientCredentials(as, star.client, star.auth, "impersonate"))).toBe("invalid_scope");

    const admin = { accountId: account.id, sub: "user_hal", role: "admin" as const };
    const { consent } = await authorize({ clientId: star.client.client_id, user: admin });
    // The consent page says what "everything" is: each permission in words, and never acting as others.
    expect(consent.text).toContain("Everything you can do in your account, except acting as other users");
    expect(consent.text).toContain("Create, change, rotate and revoke API keys");
    expect(consent.text).not.toContain("Act as other users of your account");
    const tokens = await tokensFor(as, star.client, star.auth, { clientId: star.client.client_id, user: admin });
    expect(tokens.scope!.split(" ")).not.toContain("impersonate");
    const me = await call("GET", "/v1/whoami", { token: tokens.access_token });
    expect(me.body.permissions).not.toContain("impersonate");
    expect(me.body.permissions).not.toContain("*");
    const actAs = await call("GET", "/v1/whoami", { token: tokens.access_token, headers: { "x-act-as": "user_boss" } });
    expect(actAs.status).toBe(403);
    // Nor through client_credentials asking for everything.
    const own = await clientCredentials(as, star.client, star.auth, "*");
    expect(own.scope!.split(" ")).not.toContain("impersonate");
    const ownActAs = await call("GET", "/v1/whoami", { token: own.access_token, headers: { "x-act-as": "user_boss" } });
    expect(ownActAs.status).toBe(403);
  });

  it("a consent request is single-use: a second Allow or Deny is 400 and issues nothing, and of two racing only one wins", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth } = await confidentialClient(account.id, ["keys:read"]);
    const user = { accountId: account.id, sub: "user_ivy", permissions: ["keys:read"] };
    const grants = async () =>
      (await call("GET", "/v1/oauth-grants", { token: ADMIN, accountId: account.id })).body.grants.length;
    const post = (request: string, cookie: string, decision: string) =>
      raw("POST", "/oauth/authorize", form({ request, decision }, { cookie }));
    const formOf = (consent: { text: string; headers: Headers }) => ({
      request: /name="request" value="([^"]+)"/.exec(consent.text)![1]!,
      cookie: consent.headers.get("set-cookie")!.split(";")[0]!,
    });

    // Allow, then the same form again with the same cookie.
    const first = await authorize({ clientId: client.client_id, user, decision: "allow" });
    const { request, cookie } = formOf(first.consent);
    const again = await post(request, cookie, "allow");
    expect(again.status).toBe(400);
    expect(again.headers.get("location")).toBeNull();
    expect(again.text).toContain("already answered");
    // The first code still works, once.
    const params = oauth.validateAuthResponse(as, client, first.callback, "st-1");
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, auth, params, REDIRECT, first.verifier, clientOptions),
    );
    expect((await call("GET", "/v1/whoami", { token: tokens.access_token })).status).toBe(200);

    // Deny consumes it too: Allow afterwards is refused.
    const denied = await authorize({ clientId: client.client_id, user: { ...user, sub: "user_jo" }, decision: "deny" });
    const d = formOf(denied.consent);
    expect((await post(d.request, d.cookie, "allow")).status).toBe(400);
    expect(await grants()).toBe(1);

    // Two Allows of one fresh request racing: one redirect with a code, one 400.
    const query = new URLSearchParams({
      response_type: "code",
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      state: "st-2",
      code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
      code_challenge_method: "S256",
      login_token: await userToken({ ...user, sub: "user_kim" }),
    });
    const fresh = formOf(await raw("GET", `/oauth/authorize?${query}`));
    const raced = await Promise.all([1, 2, 3].map(() => post(fresh.request, fresh.cookie, "allow")));
    expect(raced.map((r) => r.status).sort()).toEqual([302, 400, 400]);
    expect(await grants()).toBe(2);
  });

  it("the token answer, refresh and introspection name the scope the token carries, not the one asked for", async () => {
    const account = await createAccount();
    const as = await discover();
    const { client, auth } = await confidentialClient(account.id, ["keys:read", "keys:write"]);
    const user = { accountId: account.id, sub: "user_lee", permissions: ["keys:read"] };
    const tokens = await tokensFor(as, client, auth, { clientId: client.client_id, user, scope: "keys:write" });
    expect(tokens.scope).toBe("keys:read");
    const me = await call("GET", "/v1/whoami", { token: tokens.access_token });
    expect(me.body.permissions).toEqual(["keys:read"]);

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, clientOptions),
    );
    expect(refreshed.scope).toBe("keys:read");
    const introspect = async (token: string) =>
      oauth.processIntrospectionResponse(
        as,
        client,
        await oauth.introspectionRequest(as, client, auth, token, clientOptions),
      );
    expect((await introspect(refreshed.access_token)).scope).toBe("keys:read");
    expect((await introspect(refreshed.refresh_token!)).scope).toBe("keys:read");

    // Promoted, the same grant's next token carries write, and says so.
    await call("PUT", "/v1/oauth-users/user_lee", {
      token: ADMIN,
      accountId: account.id,
      body: { role: "member", permissions: ["keys:read", "keys:write"] },
    });
    const promoted = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, auth, refreshed.refresh_token!, clientOptions),
    );
    expect(promoted.scope!.split(" ").sort()).toEqual(["keys:read", "keys:write"]);
  });
});

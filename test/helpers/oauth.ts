import { env, exports } from "cloudflare:workers";
import * as oauth from "oauth4webapi";
import { ADMIN, BASE, call, type UserClaims, userToken } from "./api";

/** oauth4webapi, pointed at the Worker's real entry point (no network), over http://keyhook.test. */
export const clientOptions = {
  [oauth.customFetch]: (url: string, init?: RequestInit) => exports.default.fetch(new Request(url, init)),
  [oauth.allowInsecureRequests]: true,
};

/** The authorization server's metadata, discovered and checked by oauth4webapi. */
export async function discover(): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(BASE);
  return oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { ...clientOptions, algorithm: "oauth2" }),
  );
}

/** One request without following redirects; the answer's text and headers. */
export async function raw(method: string, url: string, init: { body?: string; headers?: Record<string, string> } = {}) {
  const res = await exports.default.fetch(
    new Request(url.startsWith("http") ? url : BASE + url, { method, redirect: "manual", ...init }),
  );
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export async function createClient(
  accountId: string,
  body: { name?: string; type?: "confidential" | "public"; redirectUris?: string[]; scopes: string[] },
  token = ADMIN,
) {
  const res = await call("POST", "/v1/oauth-clients", {
    token,
    accountId: token === ADMIN ? accountId : undefined,
    body: { name: "Test app", redirectUris: ["https://client.example/cb"], ...body },
  });
  if (res.status !== 201) throw new Error(`client create failed: ${JSON.stringify(res.body)}`);
  return res.body as { client: { id: string; [k: string]: any }; clientSecret: string | null };
}

export interface AuthorizeOptions {
  clientId: string;
  user: UserClaims;
  scope?: string;
  redirectUri?: string;
  verifier?: string;
  decision?: "allow" | "deny";
  state?: string;
}

/**
 * The browser's part of the code flow, done by hand: authorize → the host's login (which sends
 * the user back with a user JWT) → the consent page → Allow/Deny → the client's redirect URI.
 */
export async function authorize(o: AuthorizeOptions) {
  const verifier = o.verifier ?? oauth.generateRandomCodeVerifier();
  const query = new URLSearchParams({
    response_type: "code",
    client_id: o.clientId,
    redirect_uri: o.redirectUri ?? "https://client.example/cb",
    state: o.state ?? "st-1",
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  });
  if (o.scope) query.set("scope", o.scope);
  const toLogin = await raw("GET", `/oauth/authorize?${query}`);
  if (toLogin.status !== 302) throw new Error(`authorize: ${toLogin.status} ${toLogin.text}`);
  const login = new URL(toLogin.headers.get("location")!);
  const returnTo = new URL(login.searchParams.get("return_to")!);
  returnTo.searchParams.set("login_token", await userToken(o.user));
  const consent = await raw("GET", returnTo.href);
  if (consent.status !== 200) throw new Error(`consent: ${consent.status} ${consent.text}`);
  const request = /name="request" value="([^"]+)"/.exec(consent.text)![1]!;
  const cookie = consent.headers.get("set-cookie")!.split(";")[0]!;
  const decided = await raw("POST", "/oauth/authorize", {
    body: new URLSearchParams({ request, decision: o.decision ?? "allow" }).toString(),
    headers: { "content-type": "application/x-www-form-urlencoded", cookie },
  });
  if (decided.status !== 302) throw new Error(`decision: ${decided.status} ${decided.text}`);
  return { callback: new URL(decided.headers.get("location")!), verifier, consent };
}

/** The code flow to the end with oauth4webapi: tokens for `user`, through `client`. */
export async function tokensFor(
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  auth: oauth.ClientAuth,
  o: AuthorizeOptions,
) {
  const { callback, verifier } = await authorize(o);
  const params = oauth.validateAuthResponse(as, client, callback, o.state ?? "st-1");
  const res = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    auth,
    params,
    o.redirectUri ?? "https://client.example/cb",
    verifier,
    clientOptions,
  );
  return oauth.processAuthorizationCodeResponse(as, client, res);
}

/** A grant written straight into D1 (its client too), for tests about the grant record itself. */
export async function insertGrant(accountId: string, userId = "user_victim") {
  const now = Date.now();
  const suffix = crypto.randomUUID();
  const clientId = `ocl_${suffix}`;
  const grantId = `ogr_${suffix}`;
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO oauth_clients (id, account_id, name, type, redirect_uris, scopes, created_by, created_at, updated_at)
       VALUES (?, ?, 'victim key', 'public', '["https://client.example/cb"]', '["keys:read"]', '{"type":"system","id":"t","name":"t"}', ?, ?)`,
    ).bind(clientId, accountId, now, now),
    env.DB.prepare(
      `INSERT INTO oauth_grants (id, account_id, client_id, user_id, user_name, user_role, user_permissions, scopes, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'victim key', 'member', '["keys:read"]', '["keys:read"]', ?, ?)`,
    ).bind(grantId, accountId, clientId, userId, now, now),
  ]);
  return { clientId, grantId };
}

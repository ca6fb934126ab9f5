import type { OAuthClientRow, OAuthTokenRow } from "../../db/schema";
import { type AuditContext, SYSTEM_AUDIT } from "../../lib/caller";
import { constantTimeEqual, sha256Hex } from "../../lib/crypto";
import { base64UrlEncode, newId, randomBase62 } from "../../lib/encoding";
import { ApiError } from "../../lib/errors";
import type { Principal } from "../../lib/principal";
import type { Platform } from "../../platform";
import { auditRow, DEPLOYMENT_LOG, diff } from "../audit/audit.service";
import type { AuthService } from "../auth/auth.service";
import type { EdgeService } from "../edge/edge.service";
import { REGISTRATIONS_PER_HOUR, rateLimited, registrations } from "../ratelimit/limits";
import { checkAccessToken } from "./access";
import { CONSENT_TTL_MS, type ConsentRequest, openConsent, signConsent } from "./consent";
import * as repo from "./oauth.repo";
import { OAuthError, type OAuthErrorCode } from "./oauth-error";
import { isAcceptableRedirectUri, matchesRedirectUri } from "./redirect-uri";
import { APP_SCOPES, heldScopes, requestedScopes } from "./scopes";
import { isOAuthSecret, newOAuthSecret } from "./tokens";

/** How long a code lives: it is exchanged at once by the client's redirect handler. */
const CODE_TTL_MS = 5 * 60 * 1000;

/** The PKCE S256 challenge of a verifier (RFC 7636 §4.2). */
const s256 = async (verifier: string) =>
  base64UrlEncode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));

/** Where `/oauth/authorize` sends the browser next. */
export type AuthorizeStep =
  | { kind: "error"; status: 400; message: string }
  | { kind: "redirect"; location: string }
  | {
      kind: "consent";
      client: { id: string; name: string; dynamic: boolean };
      /** Where the decision redirects to: the page's CSP must let its form go there. */
      redirectUri: string;
      user: { id: string; name: string };
      scopes: string[];
      request: string;
      nonce: string;
    };

/** What `POST /oauth/register` reads (RFC 7591 §2); other fields are ignored. */
export interface RegistrationRequest {
  redirect_uris: string[];
  client_name?: string;
  token_endpoint_auth_method?: string;
  grant_types?: string[];
  response_types?: string[];
  scope?: string;
}

export interface ClientCredentials {
  clientId: string | null;
  clientSecret: string | null;
}

export interface OAuthDeps {
  auth: () => AuthService;
  /** Where access tokens are read, and where a revocation is invalidated before it answers. */
  edge: () => EdgeService;
}

/**
 * The OAuth 2.1 authorization server's protocol (RFC 6749 / OAuth 2.1, PKCE S256 only, RFC 7009,
 * RFC 7662, RFC 7591): no HTTP here, the endpoints in `oauth.endpoints.ts` translate.
 */
export function createOAuthService(platform: Platform, deps: OAuthDeps) {
  const { db, settings, secrets, now, waitUntil } = platform;
  const ttl = () => settings.oauth.accessTokenTtlSeconds;

  /** `error=…` back to the client: only ever to a redirect URI the client registered. */
  function redirectBack(
    uri: string,
    params: Record<string, string | null>,
    issuer: string,
  ): { kind: "redirect"; location: string } {
    const url = new URL(uri);
    for (const [k, v] of Object.entries({ ...params, iss: issuer })) if (v !== null) url.searchParams.set(k, v);
    return { kind: "redirect", location: url.href };
  }

  /**
   * The client behind the credentials. A public client proves nothing (its id is in every
   * authorize URL), so where the caller must be authenticated — introspection — it is refused.
   */
  async function authenticateClient(
    creds: ClientCredentials,
    opts: { secretRequired?: boolean } = {},
  ): Promise<OAuthClientRow> {
    if (!creds.clientId || creds.clientId.length > 100)
      throw new OAuthError("invalid_client", "Client authentication failed");
    const client = await repo.findClient(db, creds.clientId);
    if (!client?.enabled) throw new OAuthError("invalid_client", "Client authentication failed");
    if (client.type === "public") {
      if (creds.clientSecret) throw new OAuthError("invalid_client", "A public client has no secret");
      if (opts.secretRequired) {
        throw new OAuthError("invalid_client", "Introspection needs a confidential client's secret or a bearer key");
      }
      return client;
    }
    const secret = creds.clientSecret ?? "";
    const hash = isOAuthSecret(secret, settings, "clientSecret") ? await sha256Hex(secret) : "";
    if (!(await constantTimeEqual(hash, client.secretHash ?? "-"))) {
      throw new OAuthError("invalid_client", "Client authentication failed");
    }
    return client;
  }

  async function issueTokens(
    client: OAuthClientRow,
    accountId: string,
    grantId: string | null,
    scopes: string[],
    at: number,
  ) {
    const held = await holdingsOf(accountId, grantId, scopes);
    const access = newOAuthSecret(settings, "access");
    const refresh = grantId ? newOAuthSecret(settings, "refresh") : null;
    const row = (kind: "access" | "refresh", hash: string, expiresAt: number): OAuthTokenRow => ({
      id: newId("oat", at),
      hash,
      kind,
      accountId,
      clientId: client.id,
      grantId,
      scopes,
      expiresAt,
      usedAt: null,
      redirectUri: null,
      codeChallenge: null,
      createdAt: at,
    });
    const rows = [row("access", await sha256Hex(access), at + ttl() * 1000)];
    if (refresh) rows.push(row("refresh", await sha256Hex(refresh), at + settings.oauth.refreshTokenTtlSeconds * 1000));
    await repo.insertTokens(db, rows);
    return {
      access_token: access,
      token_type: "Bearer" as const,
      expires_in: ttl(),
      // RFC 6749 §5.1: what the token carries, which may be less than was asked for.
      scope: held.join(" "),
      ...(refresh ? { refresh_token: refresh } : {}),
    };
  }

  /** What a token of these scopes under this grant carries now (null grant: the client as itself). */
  async function holdingsOf(accountId: string, grantId: string | null, scopes: string[]) {
    if (!grantId) return heldScopes(scopes, null, null);
    const grant = await repo.findGrantHoldings(db, accountId, grantId);
    return grant ? heldScopes(scopes, grant, grant.profilePermissions) : [];
  }

  /** A reused code or refresh token: the whole grant goes (RFC 6749 §4.1.2, OAuth 2.1 §4.3.1). */
  async function revokeForReuse(token: OAuthTokenRow, at: number) {
    if (!token.grantId) return;
    const audit = auditRow(
      SYSTEM_AUDIT,
      token.accountId,
      "oauth_grant.revoked",
      { type: "oauth_grant", id: token.grantId, name: token.clientId },
      { reason: { before: null, after: `${token.kind === "code" ? "code" : "refresh token"} used twice` } },
      at,
    );
    await repo.deleteGrant(db, token.accountId, token.grantId, audit);
    await deps.edge().invalidate([`g:${token.grantId}`]);
    platform.log("warn", "an OAuth grant was revoked: a token was used twice", { grantId: token.grantId });
  }

  /** The code or refresh token behind a value, checked and consumed once; reuse revokes its grant. */
  async function consume(value: string, kind: "code" | "refresh", client: OAuthClientRow, at: number) {
    const secretKind = kind === "code" ? "code" : "refresh";
    const label = kind === "code" ? "authorization code" : "refresh token";
    if (!isOAuthSecret(value, settings, secretKind)) throw new OAuthError("invalid_grant", `Invalid ${label}`);
    const hash = await sha256Hex(value);
    const token = await repo.findToken(db, hash);
    if (!token || token.kind !== kind || token.clientId !== client.id) {
      throw new OAuthError("invalid_grant", `Invalid ${label}`);
    }
    if (token.usedAt !== null) {
      await revokeForReuse(token, at);
      throw new OAuthError("invalid_grant", `This ${label} was already used; the grant is revoked`);
    }
    if (token.expiresAt <= at) throw new OAuthError("invalid_grant", `This ${label} has expired`);
    return token;
  }

  async function markUsed(token: OAuthTokenRow, at: number) {
    const consumed = await repo.consumeToken(db, token.hash, token.kind as "code" | "refresh", at);
    if (!consumed) {
      await revokeForReuse(token, at);
      throw new OAuthError("invalid_grant", "This grant was already used; it is revoked");
    }
  }

  return {
    authenticateClient,

    /** The cron's: codes and tokens a day past their expiry (bounded per run), and dynamic clients never used. */
    async prune() {
      const result = await repo.deleteExpiredTokens(db, now(), 1000);
      await repo.deleteUnusedDynamicClients(db, now() - 86_400_000, 100);
      await repo.deleteExpiredConsents(db, now(), 1000);
      return result.meta.changes ?? 0;
    },

    /** `GET /oauth/authorize`: validate the request, send the user to log in, then show consent. */
    async authorize(params: URLSearchParams, selfUrl: string, issuer: string): Promise<AuthorizeStep> {
      const at = now();
      const clientId = params.get("client_id");
      const client = clientId && clientId.length <= 100 ? await repo.findClient(db, clientId) : undefined;
      if (!client?.enabled) return { kind: "error", status: 400, message: "Unknown or disabled client." };
      const given = params.get("redirect_uri");
      const redirectUri =
        given === null ? (client.redirectUris.length === 1 ? (client.redirectUris[0] ?? null) : null) : given;
      if (!redirectUri || !matchesRedirectUri(client.redirectUris, redirectUri)) {
        return { kind: "error", status: 400, message: "The redirect URI is not registered for this client." };
      }
      const state = params.get("state");
      const fail = (error: OAuthErrorCode, description: string) =>
        redirectBack(redirectUri, { error, error_description: description, state }, issuer);
      if (params.get("response_type") !== "code") {
        return fail("unsupported_response_type", "Only response_type=code is supported");
      }
      const challenge = params.get("code_challenge");
      if (params.get("code_challenge_method") !== "S256" || !challenge || !/^[\w-]{43}$/.test(challenge)) {
        return fail(
          "invalid_request",
          "PKCE is required: code_challenge (43 characters) with code_challenge_method=S256",
        );
      }
      let scopes: string[];
      try {
        scopes = requestedScopes(params.get("scope"), client.scopes);
      } catch (err) {
        if (err instanceof OAuthError) return fail(err.error, err.description);
        throw err;
      }
      const loginToken = params.get("login_token");
      if (!loginToken) {
        if (!settings.oauth.loginUrl) return fail("access_denied", "This deployment has no login page configured");
        const login = new URL(settings.oauth.loginUrl);
        login.searchParams.set("return_to", selfUrl);
        return { kind: "redirect", location: login.href };
      }
      let user: Awaited<ReturnType<AuthService["userToken"]>>;
      try {
        user = await deps.auth().userToken(loginToken);
      } catch (err) {
        if (err instanceof ApiError && err.status < 500) {
          return { kind: "error", status: 400, message: "The login did not produce a valid user token." };
        }
        throw err;
      }
      if (client.accountId !== null && client.accountId !== user.principal.accountId) {
        return { kind: "error", status: 400, message: "This app is not available to your account." };
      }
      const nonce = randomBase62(32);
      const request: ConsentRequest = {
        clientId: client.id,
        redirectUri,
        scopes,
        state,
        codeChallenge: challenge,
        user: {
          id: user.principal.id,
          name: user.principal.name,
          accountId: user.principal.accountId,
          role: user.role,
          permissions: user.permissions,
          profileId: user.profileId,
        },
        nonce,
        expiresAt: at + CONSENT_TTL_MS,
      };
      return {
        kind: "consent",
        client: { id: client.id, name: client.name, dynamic: client.dynamic },
        redirectUri,
        user: { id: user.principal.id, name: user.principal.name },
        scopes,
        request: await signConsent(request, secrets.webhookKey),
        nonce,
      };
    },

    /** The consent form's answer: a code (Allow) or `access_denied` (Deny), back to the client. */
    async decide(
      signed: string,
      cookieNonce: string | undefined,
      allow: boolean,
      issuer: string,
    ): Promise<Exclude<AuthorizeStep, { kind: "consent" }>> {
      const at = now();
      const request = await openConsent(signed, secrets.webhookKey, cookieNonce, at);
      if (!request) {
        return {
          kind: "error",
          status: 400,
          message: "This consent request has expired or is not valid; start again.",
        };
      }
      // Single-use: the first Allow or Deny consumes the request; a second post issues nothing.
      if (!(await repo.consumeConsent(db, request.nonce, request.expiresAt))) {
        return { kind: "error", status: 400, message: "This consent request was already answered; start again." };
      }
      const client = await repo.findClient(db, request.clientId);
      if (!client?.enabled) return { kind: "error", status: 400, message: "Unknown or disabled client." };
      if (!allow) {
        return redirectBack(
          request.redirectUri,
          { error: "access_denied", error_description: "The user denied the request", state: request.state },
          issuer,
        );
      }
      const code = newOAuthSecret(settings, "code");
      const { user } = request;
      const grantId = newId("ogr", at);
      const audit: AuditContext = {
        actor: { type: "user", id: user.id, name: user.name },
        onBehalfOf: null,
        ip: null,
        userAgent: null,
        requestId: platform.requestId,
      };
      await repo.upsertGrant(
        db,
        {
          id: grantId,
          accountId: user.accountId,
          clientId: client.id,
          userId: user.id,
          userName: user.name,
          userRole: user.role,
          userPermissions: user.permissions,
          userProfileId: user.profileId,
          scopes: request.scopes,
          createdAt: at,
          updatedAt: at,
          lastUsedAt: null,
        },
        {
          id: newId("oat", at),
          hash: await sha256Hex(code),
          kind: "code",
          accountId: user.accountId,
          clientId: client.id,
          grantId,
          scopes: request.scopes,
          expiresAt: at + CODE_TTL_MS,
          usedAt: null,
          redirectUri: request.redirectUri,
          codeChallenge: request.codeChallenge,
          createdAt: at,
        },
        auditRow(
          audit,
          user.accountId,
          "oauth_grant.created",
          { type: "oauth_client", id: client.id, name: client.name },
          { scopes: { before: null, after: request.scopes } },
          at,
        ),
      );
      return redirectBack(request.redirectUri, { code, state: request.state }, issuer);
    },

    /** `POST /oauth/token`: the three grants. */
    async token(form: Record<string, string>, creds: ClientCredentials) {
      const at = now();
      const client = await authenticateClient(creds);
      switch (form.grant_type) {
        case "client_credentials": {
          if (client.type !== "confidential" || !client.accountId) {
            throw new OAuthError(
              "unauthorized_client",
              "Only an account's confidential clients may use client_credentials",
            );
          }
          const scopes = requestedScopes(form.scope, client.scopes);
          return issueTokens(client, client.accountId, null, scopes, at);
        }
        case "authorization_code": {
          if (!form.code || !form.code_verifier || !form.redirect_uri) {
            throw new OAuthError("invalid_request", "code, redirect_uri and code_verifier are required");
          }
          const code = await consume(form.code, "code", client, at);
          if (form.redirect_uri !== code.redirectUri) {
            throw new OAuthError("invalid_grant", "redirect_uri is not the one the code was issued for");
          }
          if (
            !/^[\w.~-]{43,128}$/.test(form.code_verifier) ||
            (await s256(form.code_verifier)) !== code.codeChallenge
          ) {
            throw new OAuthError("invalid_grant", "The code_verifier does not match the code_challenge");
          }
          await markUsed(code, at);
          return issueTokens(client, code.accountId, code.grantId, code.scopes, at);
        }
        case "refresh_token": {
          if (!form.refresh_token) throw new OAuthError("invalid_request", "refresh_token is required");
          const refresh = await consume(form.refresh_token, "refresh", client, at);
          const scopes = requestedScopes(form.scope, refresh.scopes);
          if (!refresh.grantId || !(await repo.findGrant(db, refresh.accountId, refresh.grantId))) {
            throw new OAuthError("invalid_grant", "The grant was revoked");
          }
          await markUsed(refresh, at);
          return issueTokens(client, refresh.accountId, refresh.grantId, scopes, at);
        }
        default:
          throw new OAuthError(
            "unsupported_grant_type",
            "grant_type must be authorization_code, refresh_token or client_credentials",
          );
      }
    },

    /** RFC 7009: a client revokes its own token (a refresh token takes its whole grant). Always 200. */
    async revoke(token: string, creds: ClientCredentials) {
      const client = await authenticateClient(creds);
      if (token.length > 200) return;
      const found = await repo.findToken(db, await sha256Hex(token));
      if (!found || found.clientId !== client.id) return;
      if (found.kind === "access" || !found.grantId) {
        await repo.deleteToken(db, found.id);
        await deps.edge().invalidate([`t:${found.id}`]);
        return;
      }
      const audit = auditRow(
        { ...SYSTEM_AUDIT, actor: { type: "oauth", id: client.id, name: client.name } },
        found.accountId,
        "oauth_grant.revoked",
        { type: "oauth_grant", id: found.grantId, name: client.name },
        null,
        now(),
      );
      await repo.deleteGrant(db, found.accountId, found.grantId, audit);
      await deps.edge().invalidate([`g:${found.grantId}`]);
    },

    /**
     * RFC 7662, for a client (its own tokens) or a principal with `keys:verify` (its account's;
     * the operator's: any). Inactive, unknown and foreign tokens all answer `{ active: false }`.
     */
    async introspect(token: string, caller: { client: OAuthClientRow } | { principal: Principal }, issuer: string) {
      const at = now();
      const inactive = { active: false as const };
      const mine = (accountId: string, clientId: string) =>
        "client" in caller
          ? clientId === caller.client.id
          : caller.principal.type === "operator" || caller.principal.accountId === accountId;
      if (isOAuthSecret(token, settings, "access")) {
        const check = await checkAccessToken(db, settings, (hash) => deps.edge().token(hash), token, at, waitUntil);
        if (!check.ok || !mine(check.principal.accountId ?? "", check.principal.id)) return inactive;
        const { principal } = check;
        return {
          active: true as const,
          token_type: "access_token",
          scope: principal.permissions.join(" "),
          client_id: principal.id,
          sub: principal.onBehalfOf?.id ?? principal.id,
          exp: Math.floor(check.expiresAt / 1000),
          iss: issuer,
          account_id: principal.accountId,
        };
      }
      if (!isOAuthSecret(token, settings, "refresh")) return inactive;
      const found = await repo.findToken(db, await sha256Hex(token));
      if (!found || found.usedAt !== null || found.expiresAt <= at || !mine(found.accountId, found.clientId)) {
        return inactive;
      }
      const grant = found.grantId ? await repo.findGrantHoldings(db, found.accountId, found.grantId) : undefined;
      if (!grant) return inactive;
      return {
        active: true as const,
        token_type: "refresh_token",
        scope: heldScopes(found.scopes, grant, grant.profilePermissions).join(" "),
        client_id: found.clientId,
        sub: grant.userId,
        exp: Math.floor(found.expiresAt / 1000),
        iss: issuer,
        account_id: found.accountId,
      };
    },

    /**
     * RFC 7591 dynamic registration (`OAUTH_DYNAMIC_REGISTRATION=true`): public clients only, which
     * must use PKCE, with `https` or loopback redirect URIs. They belong to no account: any user
     * may authorize one, for their own account, on the consent page. Audited in the deployment's
     * log, where the operator sees who registered what, from where.
     */
    async register(metadata: RegistrationRequest, clientIp: string, userAgent: string | null) {
      const at = now();
      const hit = await registrations(platform.kv, platform.log).hit(clientIp, REGISTRATIONS_PER_HOUR, at, waitUntil);
      if (!hit.allowed) throw rateLimited("Too many client registrations from this address", hit.resetAt, at);
      if (metadata.token_endpoint_auth_method && metadata.token_endpoint_auth_method !== "none") {
        throw new OAuthError(
          "invalid_client_metadata",
          "Only public clients (token_endpoint_auth_method none) may register",
        );
      }
      const grants = metadata.grant_types ?? ["authorization_code", "refresh_token"];
      if (grants.some((g) => g !== "authorization_code" && g !== "refresh_token")) {
        throw new OAuthError("invalid_client_metadata", "grant_types may be authorization_code and refresh_token");
      }
      if ((metadata.response_types ?? ["code"]).some((r) => r !== "code")) {
        throw new OAuthError("invalid_client_metadata", "response_types may only be code");
      }
      const bad = metadata.redirect_uris.filter((u) => !isAcceptableRedirectUri(u));
      if (bad.length > 0) {
        throw new OAuthError("invalid_redirect_uri", `Redirect URIs must be https or loopback http: ${bad.join(" ")}`);
      }
      const scopes = requestedScopes(metadata.scope, ["*"]);
      const row: OAuthClientRow = {
        id: newId("ocl", at),
        accountId: null,
        name: metadata.client_name?.trim() || "Unnamed app",
        type: "public",
        secretHash: null,
        secretLast4: null,
        redirectUris: [...new Set(metadata.redirect_uris)],
        scopes,
        dynamic: true,
        enabled: true,
        createdBy: { type: "system", id: "oauth-register", name: "Dynamic registration" },
        createdAt: at,
        updatedAt: at,
      };
      const from: AuditContext = {
        actor: row.createdBy,
        onBehalfOf: null,
        ip: clientIp,
        userAgent,
        requestId: platform.requestId,
      };
      const { name, type, redirectUris } = row;
      const registered = diff(null, { name, type, redirectUris, scopes, enabled: true });
      const target = { type: "oauth_client", id: row.id, name };
      await repo.insertClient(
        db,
        row,
        auditRow(from, DEPLOYMENT_LOG, "oauth_client.registered", target, registered, at),
      );
      return {
        client_id: row.id,
        client_id_issued_at: Math.floor(at / 1000),
        client_name: row.name,
        redirect_uris: row.redirectUris,
        grant_types: grants,
        response_types: ["code"],
        token_endpoint_auth_method: "none",
        scope: scopes.join(" "),
      };
    },

    /** RFC 8414 metadata. */
    metadata(issuer: string) {
      return {
        issuer,
        authorization_endpoint: `${issuer}/oauth/authorize`,
        token_endpoint: `${issuer}/oauth/token`,
        revocation_endpoint: `${issuer}/oauth/revoke`,
        introspection_endpoint: `${issuer}/oauth/introspect`,
        ...(settings.oauth.dynamicRegistration ? { registration_endpoint: `${issuer}/oauth/register` } : {}),
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        grant_types_supported: ["authorization_code", "refresh_token", "client_credentials"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
        revocation_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
        introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "bearer"],
        scopes_supported: APP_SCOPES,
        authorization_response_iss_parameter_supported: true,
        service_documentation: `${issuer}/docs`,
      };
    },
  };
}

export type OAuthService = ReturnType<typeof createOAuthService>;

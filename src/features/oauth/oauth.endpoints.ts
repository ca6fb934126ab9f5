import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import type { AppEnv } from "../../http/context";
import { authenticate } from "../../http/middleware/auth";
import { ApiError } from "../../lib/errors";
import { hasPermission } from "../../lib/permissions";
import { clientKey } from "../ratelimit/limits";
import { CONSENT_COOKIE, CONSENT_TTL_MS } from "./consent";
import { ConsentPage, consentHeaders, ErrorPage, PAGE_HEADERS } from "./consent-page";
import type { ClientCredentials } from "./oauth.service";
import { OAuthError } from "./oauth-error";
import { APP_SCOPES } from "./scopes";

/** The `issuer`: the configured origin, else the one this request came to. */
const issuerOf = (c: Context<AppEnv>) => c.var.services.platform.settings.oauth.issuer ?? new URL(c.req.url).origin;

/** RFC 9728 metadata of a resource Keyhook serves (the API, or `/mcp`). */
const protectedResource = (issuer: string, path: string) => ({
  resource: `${issuer}${path}`,
  authorization_servers: [issuer],
  scopes_supported: APP_SCOPES,
  bearer_methods_supported: ["header"],
  resource_name: "Keyhook",
  resource_documentation: `${issuer}/docs`,
});

const noStore = { "Cache-Control": "no-store", Pragma: "no-cache" };

function oauthError(c: Context<AppEnv>, err: OAuthError) {
  const headers: Record<string, string> = { ...noStore };
  if (err.status === 401) headers["WWW-Authenticate"] = 'Basic realm="keyhook"';
  return c.json({ error: err.error, error_description: err.description }, err.status, headers);
}

/** The body as form fields (read as bytes: workerd warns when a form body is read as text). */
const formParams = async (c: Context<AppEnv>) =>
  new URLSearchParams(new TextDecoder().decode(await c.req.arrayBuffer()));

/** A form body (RFC 6749 §3.2: `application/x-www-form-urlencoded`), as strings; repeated fields refused. */
async function formOf(c: Context<AppEnv>): Promise<Record<string, string>> {
  if (!c.req.header("content-type")?.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    throw new OAuthError("invalid_request", "Send the request as application/x-www-form-urlencoded");
  }
  const params = await formParams(c);
  const form: Record<string, string> = {};
  for (const [k, v] of params) {
    if (k in form) throw new OAuthError("invalid_request", `${k} is given more than once`);
    form[k] = v;
  }
  return form;
}

/** `client_secret_basic` (RFC 6749 §2.3.1: each part form-encoded) or `client_secret_post` / `none`. */
function credentialsOf(c: Context<AppEnv>, form: Record<string, string>): ClientCredentials {
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(c.req.header("authorization") ?? "")?.[1];
  if (!basic) return { clientId: form.client_id ?? null, clientSecret: form.client_secret ?? null };
  let decoded: string;
  try {
    decoded = atob(basic);
  } catch {
    throw new OAuthError("invalid_client", "Client authentication failed");
  }
  const colon = decoded.indexOf(":");
  if (colon < 0 || form.client_secret) throw new OAuthError("invalid_client", "Client authentication failed");
  const clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, " "));
  if (form.client_id && form.client_id !== clientId) {
    throw new OAuthError("invalid_request", "client_id differs from the authenticated client");
  }
  return { clientId, clientSecret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, " ")) };
}

/** Runs an OAuth endpoint: its own errors in RFC 6749's shape, everything else to `app.onError`. */
const endpoint =
  (handler: (c: Context<AppEnv>) => Promise<Response>) =>
  async (c: Context<AppEnv>): Promise<Response> => {
    try {
      return await handler(c);
    } catch (err) {
      if (err instanceof OAuthError) return oauthError(c, err);
      if (err instanceof URIError)
        return oauthError(c, new OAuthError("invalid_client", "Client authentication failed"));
      throw err;
    }
  };

const RegistrationBody = z.object({
  redirect_uris: z.array(z.string().max(2000)).min(1).max(10),
  client_name: z.string().max(100).optional(),
  token_endpoint_auth_method: z.string().max(100).optional(),
  grant_types: z.array(z.string().max(100)).max(10).optional(),
  response_types: z.array(z.string().max(100)).max(10).optional(),
  scope: z.string().max(2000).optional(),
});

/** Everything an OAuth client or an MCP client reaches before it holds a token. */
export const oauthEndpoints = new Hono<AppEnv>()
  .use(
    "/oauth/*",
    bodyLimit({
      maxSize: 16 * 1024,
      onError: (c) => c.json({ error: "invalid_request", error_description: "Request body over 16 KiB" }, 413),
    }),
  )
  .get("/.well-known/oauth-authorization-server", (c) => c.json(c.var.services.oauth.metadata(issuerOf(c))))
  // RFC 9728: the API's own, and the path-aware one of `/mcp` (what an MCP client asks for first).
  .get("/.well-known/oauth-protected-resource", (c) => c.json(protectedResource(issuerOf(c), "")))
  .get("/.well-known/oauth-protected-resource/mcp", (c) => c.json(protectedResource(issuerOf(c), "/mcp")))
  .get("/oauth/authorize", async (c) => {
    const url = new URL(c.req.url);
    const selfUrl = `${issuerOf(c)}${url.pathname}${url.search}`;
    const step = await c.var.services.oauth.authorize(url.searchParams, selfUrl, issuerOf(c));
    if (step.kind === "redirect") return c.redirect(step.location, 302);
    if (step.kind === "error") return c.html(ErrorPage({ message: step.message }), step.status, PAGE_HEADERS);
    setCookie(c, CONSENT_COOKIE, step.nonce, {
      path: "/",
      secure: true,
      httpOnly: true,
      sameSite: "Lax",
      maxAge: CONSENT_TTL_MS / 1000,
    });
    const page = ConsentPage({
      clientName: step.client.name,
      dynamic: step.client.dynamic,
      redirectOrigin: new URL(step.redirectUri).origin,
      userName: step.user.name,
      scopes: step.scopes,
      request: step.request,
    });
    return c.html(page, 200, consentHeaders(step.redirectUri));
  })
  .post("/oauth/authorize", async (c) => {
    const form = await formParams(c);
    const signed = form.get("request") ?? "";
    const step = await c.var.services.oauth.decide(
      signed,
      getCookie(c, CONSENT_COOKIE),
      form.get("decision") === "allow",
      issuerOf(c),
    );
    if (step.kind === "error") return c.html(ErrorPage({ message: step.message }), step.status, PAGE_HEADERS);
    setCookie(c, CONSENT_COOKIE, "", { path: "/", secure: true, httpOnly: true, sameSite: "Lax", maxAge: 0 });
    return c.redirect(step.location, 302);
  })
  .post(
    "/oauth/token",
    endpoint(async (c) => {
      const form = await formOf(c);
      const tokens = await c.var.services.oauth.token(form, credentialsOf(c, form));
      return c.json(tokens, 200, noStore);
    }),
  )
  .post(
    "/oauth/revoke",
    endpoint(async (c) => {
      const form = await formOf(c);
      if (!form.token) throw new OAuthError("invalid_request", "token is required");
      await c.var.services.oauth.revoke(form.token, credentialsOf(c, form));
      return c.body(null, 200, noStore);
    }),
  )
  .post(
    "/oauth/introspect",
    endpoint(async (c) => {
      const form = await formOf(c);
      if (!form.token) throw new OAuthError("invalid_request", "token is required");
      const { oauth } = c.var.services;
      if (/^Bearer\s/i.test(c.req.header("authorization") ?? "")) {
        // A backend with a key (or a user, or the operator) that may verify: its account's tokens.
        await authenticate(c, async () => {});
        if (!hasPermission(c.var.principal.permissions, "keys:verify")) {
          throw new ApiError("insufficient_scope", "Missing permission: keys:verify", { missing: ["keys:verify"] });
        }
        return c.json(await oauth.introspect(form.token, { principal: c.var.principal }, issuerOf(c)), 200, noStore);
      }
      // RFC 7662 §2.1: the caller must authenticate; a public client's id proves nothing.
      const client = await oauth.authenticateClient(credentialsOf(c, form), { secretRequired: true });
      return c.json(await oauth.introspect(form.token, { client }, issuerOf(c)), 200, noStore);
    }),
  )
  .post(
    "/oauth/register",
    endpoint(async (c) => {
      const { oauth, platform } = c.var.services;
      if (!platform.settings.oauth.dynamicRegistration) {
        throw new ApiError("not_found", "Dynamic client registration is not enabled on this deployment");
      }
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        throw new OAuthError("invalid_client_metadata", "Send the client metadata as a JSON object");
      }
      const parsed = RegistrationBody.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue?.path.join(".") || "body";
        throw new OAuthError("invalid_client_metadata", `${where}: ${issue?.message ?? "invalid"}`);
      }
      const userAgent = c.req.header("user-agent") ?? null;
      return c.json(await oauth.register(parsed.data, clientKey(c.req.raw), userAgent), 201, noStore);
    }),
  );

import { env, exports } from "cloudflare:workers";
import { type OAuthClientProvider, UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";
import { describe, expect, it } from "vitest";
import { TOOLS } from "../src/features/mcp/tools";
import { ADMIN, BASE, call, createAccount, createKey, userToken } from "./helpers/api";

const MCP_URL = new URL(`${BASE}/mcp`);
const workerFetch = (url: string | URL, init?: RequestInit) => exports.default.fetch(new Request(url, init));

/** The official MCP client, with a key (or token) sent as a static header. */
async function connect(credential: string) {
  const transport = new StreamableHTTPClientTransport(MCP_URL, {
    fetch: workerFetch,
    requestInit: { headers: { Authorization: `Bearer ${credential}` } },
  });
  const client = new Client({ name: "keyhook-test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

const textOf = (result: Awaited<ReturnType<Client["callTool"]>>) =>
  JSON.parse((result.content as { type: string; text: string }[])[0]!.text);

describe("MCP server (POST /mcp, stateless Streamable HTTP)", () => {
  it("lists every tool with the input schema of its route, and answers what the route answers", async () => {
    const account = await createAccount();
    const { key, apiKey } = await createKey(account.id, { name: "agent" });
    const client = await connect(key);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOLS.map((t) => t.name).sort());
    const create = tools.find((t) => t.name === "keys_create")!;
    expect(create.inputSchema.properties).toHaveProperty("name");
    expect(create.inputSchema.properties).toHaveProperty("scopes");
    expect(create.inputSchema.required).toContain("name");
    expect(tools.find((t) => t.name === "keys_revoke")!.annotations).toMatchObject({ destructiveHint: true });
    expect(tools.find((t) => t.name === "keys_list")!.annotations).toMatchObject({ readOnlyHint: true });

    expect(textOf(await client.callTool({ name: "whoami", arguments: {} }))).toMatchObject({
      type: "api_key",
      id: apiKey.id,
    });
    const created = textOf(await client.callTool({ name: "keys_create", arguments: { name: "from MCP", scopes: [] } }));
    expect(created.key).toMatch(/^kh_live_/);
    const got = textOf(await client.callTool({ name: "keys_get", arguments: { id: created.apiKey.id } }));
    const direct = await call("GET", `/v1/api-keys/${created.apiKey.id}`, { apiKey: key });
    expect(got).toEqual(direct.body);
    const listed = textOf(await client.callTool({ name: "keys_list", arguments: { limit: 1 } }));
    expect(listed.apiKeys).toHaveLength(1);
    expect(listed.nextCursor).not.toBeNull();

    const revoked = await client.callTool({ name: "keys_revoke", arguments: { id: created.apiKey.id } });
    expect(revoked.isError).toBe(false);
    expect((await call("GET", "/v1/whoami", { apiKey: created.key })).status).toBe(401);
    // Audited as the key that called the tool.
    const audit = textOf(await client.callTool({ name: "audit_list", arguments: { targetId: created.apiKey.id } }));
    expect(audit.entries.map((e: any) => e.action)).toEqual(["api_key.revoked", "api_key.created"]);
    expect(audit.entries[0].actor).toMatchObject({ type: "api_key", id: apiKey.id });
    await client.close();
  });

  it("each tool needs exactly its route's permission; a bad input is the route's 400", async () => {
    const account = await createAccount();
    const { key } = await createKey(account.id, { scopes: ["keys:read"] });
    const client = await connect(key);
    const refused = await client.callTool({ name: "keys_create", arguments: { name: "nope" } });
    expect(refused.isError).toBe(true);
    expect(textOf(refused).error).toMatchObject({ code: "insufficient_scope", details: { missing: ["keys:write"] } });
    const allowed = await client.callTool({ name: "keys_list", arguments: {} });
    expect(allowed.isError).toBe(false);
    const webhooks = await client.callTool({ name: "webhooks_list", arguments: {} });
    expect(textOf(webhooks).error.code).toBe("insufficient_scope");
    const missing = await client.callTool({ name: "keys_get", arguments: { id: "key_nope" } });
    expect(textOf(missing).error.code).toBe("not_found");
    await client.close();
  });

  it("publishes events and reads a webhook's attempts through tools", async () => {
    const account = await createAccount();
    const { key } = await createKey(account.id);
    const client = await connect(key);
    const hook = textOf(
      await client.callTool({
        name: "webhooks_create",
        arguments: { url: `${env.RECEIVER_URL}/ok/mcp-${crypto.randomUUID()}`, events: ["order.paid"] },
      }),
    );
    const published = textOf(
      await client.callTool({ name: "events_publish", arguments: { type: "order.paid", entity: { id: "o_1" } } }),
    );
    expect(published.deliveries).toHaveLength(1);
    await expect
      .poll(async () => {
        const attempts = textOf(
          await client.callTool({ name: "webhooks_attempts", arguments: { id: hook.webhook.id } }),
        );
        return attempts.attempts?.length ?? 0;
      })
      .toBeGreaterThan(0);
    await client.close();
  });

  it("without a credential: 401 naming the protected-resource metadata; a bad one: 401 too", async () => {
    const bare = await exports.default.fetch(
      new Request(MCP_URL, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      }),
    );
    expect(bare.status).toBe(401);
    expect(bare.headers.get("www-authenticate")).toBe(
      'Bearer resource_metadata="http://keyhook.test/.well-known/oauth-protected-resource/mcp"',
    );
    await expect(connect("kh_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000")).rejects.toThrow();
    // The handle a tool call's inner request carries names nothing when it comes from outside.
    const forged = await call("GET", "/v1/whoami", { headers: { "x-keyhook-admitted": crypto.randomUUID() } });
    expect(forged.status).toBe(401);
    expect((await call("GET", "/mcp", { token: ADMIN })).status).toBe(405);
  });

  it("an OAuth access token works like a key, within its user's permissions", async () => {
    const account = await createAccount();
    const created = await call("POST", "/v1/oauth-clients", {
      token: ADMIN,
      accountId: account.id,
      body: { name: "Agent", scopes: ["keys:read", "keys:write"] },
    });
    const tokens = await call("POST", "/oauth/token", {
      headers: {
        authorization: `Basic ${btoa(`${created.body.client.id}:${created.body.clientSecret}`)}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials&scope=keys:read",
    });
    const client = await connect(tokens.body.access_token);
    expect(textOf(await client.callTool({ name: "whoami", arguments: {} }))).toMatchObject({
      type: "oauth",
      name: "Agent",
      permissions: ["keys:read"],
    });
    const refused = await client.callTool({ name: "keys_create", arguments: { name: "x" } });
    expect(textOf(refused).error.code).toBe("insufficient_scope");
    await client.close();
  });
});

/** An MCP client's OAuth state, in memory: what a desktop agent keeps on disk. */
class MemoryProvider implements OAuthClientProvider {
  info?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifier?: string;
  authorizationUrl?: URL;
  get redirectUrl() {
    return "http://127.0.0.1:33418/callback";
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "Test agent",
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier!;
  }
}

describe("an MCP client connecting with only the server's URL", () => {
  it("discovers the authorization server, registers itself, runs PKCE through consent, and calls tools", async () => {
    const account = await createAccount();
    const provider = new MemoryProvider();
    const transport = new StreamableHTTPClientTransport(MCP_URL, { fetch: workerFetch, authProvider: provider });
    await expect(new Client({ name: "agent", version: "1" }).connect(transport)).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
    // It registered itself (RFC 7591) and sent the user to /oauth/authorize with PKCE.
    expect(provider.info?.client_id).toMatch(/^ocl_/);
    const authorizeUrl = provider.authorizationUrl!;
    expect(authorizeUrl.pathname).toBe("/oauth/authorize");
    expect(authorizeUrl.searchParams.get("code_challenge_method")).toBe("S256");

    // The user's browser: the host's login, then Allow on the consent page.
    const toLogin = await workerFetch(authorizeUrl, { redirect: "manual" });
    const returnTo = new URL(new URL(toLogin.headers.get("location")!).searchParams.get("return_to")!);
    returnTo.searchParams.set(
      "login_token",
      await userToken({ accountId: account.id, sub: "user_agent_owner", permissions: ["keys:read"] }),
    );
    const consent = await workerFetch(returnTo, { redirect: "manual" });
    const page = await consent.text();
    expect(page).toContain("Authorize Test agent");
    const request = /name="request" value="([^"]+)"/.exec(page)![1]!;
    const decided = await workerFetch(`${BASE}/oauth/authorize`, {
      method: "POST",
      redirect: "manual",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        cookie: consent.headers.get("set-cookie")!.split(";")[0]!,
      },
      body: new URLSearchParams({ request, decision: "allow" }).toString(),
    });
    const callback = new URL(decided.headers.get("location")!);
    expect(callback.origin + callback.pathname).toBe(provider.redirectUrl);
    await transport.finishAuth(callback.searchParams.get("code")!);
    expect(provider.saved?.access_token).toMatch(/^kh_at_/);

    const client = new Client({ name: "agent", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(MCP_URL, { fetch: workerFetch, authProvider: provider }));
    const me = textOf(await client.callTool({ name: "whoami", arguments: {} }));
    expect(me).toMatchObject({
      type: "oauth",
      accountId: account.id,
      onBehalfOf: { type: "user", id: "user_agent_owner" },
    });
    // It asked for everything offered; it holds what the user holds.
    expect(me.permissions).toEqual(["keys:read"]);
    await client.close();
  });
});

import { env, exports } from "cloudflare:workers";
import { sign } from "hono/jwt";

export const ADMIN = env.ADMIN_TOKEN;
export const BASE = "http://keyhook.test";

export interface CallOptions {
  /** Sent as `Authorization: Bearer …` (operator token, JWT or key). */
  token?: string;
  /** Sent as `X-API-Key`. */
  apiKey?: string;
  accountId?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Answer<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** One request through the Worker's real entry point. */
export async function call<T = any>(method: string, path: string, options: CallOptions = {}): Promise<Answer<T>> {
  const headers = new Headers(options.headers);
  if (options.token) headers.set("authorization", `Bearer ${options.token}`);
  if (options.apiKey) headers.set("x-api-key", options.apiKey);
  if (options.accountId) headers.set("x-account-id", options.accountId);
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  const res = await exports.default.fetch(new Request(BASE + path, { method, headers, body }));
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text, so a test can assert on it
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}

export async function createAccount(plan: "free" | "pro" | "enterprise" = "pro", name = "Acme") {
  const res = await call("POST", "/v1/accounts", { token: ADMIN, body: { name, plan } });
  if (res.status !== 201) throw new Error(`account create failed: ${JSON.stringify(res.body)}`);
  return res.body.account as { id: string; plan: string };
}

/** Creates a key as the operator acting in `accountId`; returns the record and the secret. */
export async function createKey(accountId: string, body: Record<string, unknown> = {}) {
  const res = await call("POST", "/v1/api-keys", { token: ADMIN, accountId, body: { name: "test key", ...body } });
  if (res.status !== 201) throw new Error(`key create failed: ${JSON.stringify(res.body)}`);
  return res.body as { apiKey: { id: string; [k: string]: any }; key: string };
}

export interface UserClaims {
  accountId: string;
  role?: "admin" | "member";
  permissions?: string[];
  sub?: string;
  exp?: number | null;
  name?: string;
  profileId?: string;
}

export function userToken(claims: UserClaims, secret = env.JWT_SECRET) {
  const payload: Record<string, unknown> = {
    sub: claims.sub ?? "user_1",
    account_id: claims.accountId,
    role: claims.role ?? "member",
    name: claims.name,
  };
  if (claims.permissions) payload.permissions = claims.permissions;
  if (claims.profileId) payload.profile_id = claims.profileId;
  if (claims.exp !== null) payload.exp = claims.exp ?? Math.floor(Date.now() / 1000) + 3600;
  return sign(payload, secret, "HS256");
}

/** An account with a working full-access key, the usual starting point. */
export async function accountWithKey(plan: "pro" | "enterprise" = "pro", keyBody: Record<string, unknown> = {}) {
  const account = await createAccount(plan);
  const { apiKey, key } = await createKey(account.id, keyBody);
  return { account, apiKey, key };
}

/**
 * The page's only way to the server: the public API through the typed client (`keyhook/client`:
 * paths, requests and answers typed from the OpenAPI document), with the token kept for this
 * browser session.
 */
import { type components, createClient, type KeyhookClient, KeyhookError } from "../client/index.ts";

export type Schemas = components["schemas"];
export { KeyhookError };

const TOKEN = "keyhook.token";
const ACCOUNT = "keyhook.account";

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN);
  },
  get accountId() {
    return sessionStorage.getItem(ACCOUNT);
  },
  save(token: string, accountId: string | null) {
    sessionStorage.setItem(TOKEN, token);
    if (accountId) sessionStorage.setItem(ACCOUNT, accountId);
    else sessionStorage.removeItem(ACCOUNT);
  },
  clear() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(ACCOUNT);
  },
};

/**
 * What the page may offer. The admin page offers everything (the API refuses what the token lacks);
 * the customer portal offers only what its session's capabilities allow.
 */
export const can = { write: true, replay: true };

let portal = false;

/**
 * The customer portal: the same calls, to `/portal/api` with the session's HttpOnly cookie (the page
 * never holds a credential) and the header that tells the page's own requests from a forged form.
 */
export function enterPortal(capabilities: readonly string[]) {
  portal = true;
  can.write = capabilities.includes("webhooks:write");
  can.replay = capabilities.includes("events:replay");
}

const portalFetch = (request: Request) => {
  const withHeader = new Request(request, { credentials: "same-origin" });
  withHeader.headers.set("x-keyhook-portal", "1");
  return fetch(withHeader);
};

/** A client for this session (or for a token being tried), acting in the picked account. */
export function keyhook(token?: string | null): KeyhookClient {
  // Before any storage is touched: a third-party frame may not read sessionStorage at all.
  if (portal) return createClient({ baseUrl: `${location.origin}/portal/api`, fetch: portalFetch });
  const held = token === undefined ? session.token : token;
  return createClient({
    baseUrl: location.origin,
    token: held ?? undefined,
    accountId: session.accountId ?? undefined,
  });
}

/**
 * The data of a typed call. An answer other than 2xx is thrown by the client as a `KeyhookError`
 * (code, message); a request that never reached the server becomes a readable error.
 */
export async function data<T>(request: Promise<{ data?: T }>): Promise<T> {
  let answer: { data?: T };
  try {
    answer = await request;
  } catch (err) {
    if (err instanceof KeyhookError) throw err;
    throw new Error("Could not reach Keyhook. Check your connection and try again.");
  }
  return answer.data as T;
}

export const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

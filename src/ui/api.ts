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

/** A client for this session (or for a token being tried), acting in the picked account. */
export function keyhook(token = session.token): KeyhookClient {
  return createClient({
    baseUrl: location.origin,
    token: token ?? undefined,
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

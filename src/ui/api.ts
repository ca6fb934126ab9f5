/** The page's only way to the server: the public API, with the token kept for this browser session. */
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

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T = any>(method: string, path: string, body?: unknown, token = session.token): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (session.accountId) headers["x-account-id"] = session.accountId;
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiFailure(0, "network_error", "Could not reach Keyhook. Check your connection and try again.");
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = data?.error;
    throw new ApiFailure(res.status, err?.code ?? "error", err?.message ?? `Request failed (${res.status})`);
  }
  return data as T;
}

export const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

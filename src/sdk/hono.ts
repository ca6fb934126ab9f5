import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";

/**
 * `keyhook/hono`: `@unkey/hono`'s middleware, verifying against Keyhook's Unkey API (`/v2`,
 * docs/unkey.md) — by URL (`baseUrl`) or through a service binding (`binding`). The same options and
 * behaviour, so an app changes its import line and adds where Keyhook is:
 *
 * ```ts
 * import { unkey } from "keyhook/hono"; // was: from "@unkey/hono"
 * app.use("/api/*", unkey({ rootKey, baseUrl: "https://keyhook.example.com" }));
 * ```
 *
 * No key: 401 `{"error": "unauthorized"}`. A key that does not verify still reaches the route (with
 * `c.get("unkey")` saying why) unless `handleInvalidKey` answers for it. A failure of the call goes
 * to `onError`, else a 500.
 */
export interface UnkeyVerifyResponse {
  meta: { requestId: string };
  data: {
    valid: boolean;
    code: string;
    keyId?: string;
    name?: string;
    meta?: Record<string, unknown>;
    expires?: number;
    credits?: number;
    enabled?: boolean;
    permissions?: string[];
    identity?: { id: string; externalId: string };
  };
}

export type UnkeyContext = UnkeyVerifyResponse;

/** A call Keyhook answered with an error (`@unkey/api`'s `APIError` has the same fields). */
export class APIError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
    readonly body: string,
  ) {
    super(message);
    this.name = "APIError";
  }
}

export interface UnkeyConfig {
  rootKey: string;
  /** Keyhook's address (`https://keyhook.example.com`); or `binding`: a service binding to it. */
  baseUrl?: string;
  binding?: string;
  tags?: string[];
  permissions?: string;
  getKey?: (c: Context) => string | undefined | Response;
  handleInvalidKey?: (c: Context, result: UnkeyContext) => Response | Promise<Response>;
  onError?: (c: Context, err: APIError) => Response | Promise<Response>;
}

export function unkey(config: UnkeyConfig): MiddlewareHandler {
  if (!config.baseUrl && !config.binding) throw new Error("keyhook/hono: give baseUrl or binding");
  const url = `${(config.baseUrl ?? "https://keyhook").replace(/\/$/, "")}/v2/keys.verifyKey`;

  async function verify(c: Context, key: string): Promise<UnkeyVerifyResponse> {
    const request = new Request(url, {
      method: "POST",
      headers: { authorization: `Bearer ${config.rootKey}`, "content-type": "application/json" },
      body: JSON.stringify({ key, permissions: config.permissions, tags: config.tags }),
    });
    const binding = config.binding
      ? (c.env as Record<string, { fetch: typeof fetch } | undefined>)[config.binding]
      : null;
    if (config.binding && !binding) throw new Error(`keyhook/hono: no service binding named ${config.binding}`);
    const res = binding ? await binding.fetch(request) : await fetch(request);
    const text = await res.text();
    if (!res.ok) throw new APIError(`API error occurred: Status ${res.status}`, res.status, text);
    return JSON.parse(text) as UnkeyVerifyResponse;
  }

  return async (c, next) => {
    const key = config.getKey ? config.getKey(c) : (c.req.header("Authorization")?.replace("Bearer ", "") ?? null);
    if (!key) return c.json({ error: "unauthorized" }, { status: 401 });
    if (typeof key !== "string") return key;
    try {
      const res = await verify(c, key);
      if (!res.data.valid && config.handleInvalidKey) return config.handleInvalidKey(c, res);
      c.set("unkey", res);
    } catch (err) {
      if (err instanceof APIError) {
        if (config.onError) return config.onError(c, err);
        throw new HTTPException(500, { message: `unkey error: [CODE: ${err.statusCode}] - ${err.message}` });
      }
      throw err;
    }
    await next();
  };
}

import { createMiddleware } from "hono/factory";
import { type ErrorCode, errorStatus, refusalOf, type VerifyCode } from "../lib/errors";

export type { ErrorCode, VerifyCode };

/** What `KeyhookRpc.verify` answers (the same as `POST /v1/keys/verify`). */
export interface KeyVerdict {
  valid: boolean;
  code: VerifyCode;
  keyId: string | null;
  accountId: string | null;
  name: string | null;
  scopes: string[] | null;
  ratelimit: { limit: number; remaining: number; reset: number } | null;
  credits: { remaining: number; nextRefillAt: string | null } | null;
  expiresAt: string | null;
  metadata: Record<string, unknown> | null;
  /** An OAuth access token: its client, and the user it acts for (null: the client itself). */
  oauth: { clientId: string; userId: string | null } | null;
}

export type PublishResult =
  | {
      event: { id: string; type: string; accountId: string; occurredAt: string; entity: Record<string, unknown> };
      deliveries: { id: string; webhookId: string; status: string }[];
    }
  | { error: { code: ErrorCode; message: string; details?: unknown } };

/** The shape of a service binding to Keyhook's `KeyhookRpc` entrypoint. */
export interface KeyhookBinding {
  verify(key: string, scopes?: string[], options?: { cost?: number }): Promise<KeyVerdict>;
  publish(
    accountId: string,
    event: { type: string; entity: Record<string, unknown>; idempotencyKey?: string },
  ): Promise<PublishResult>;
}

/** A verdict that admitted the caller: it always names the account and the caller. */
export type ValidVerdict = KeyVerdict & { valid: true; accountId: string; name: string };

/**
 * Protects another Worker's Hono routes with Keyhook keys, through a service binding:
 * `app.use("/api/*", keyhookAuth({ binding: "KEYHOOK", scopes: ["invoices:read"] }))`.
 * Sets `c.var.keyhook` to the verdict; refuses with Keyhook's error shape and rate-limit headers.
 */
export function keyhookAuth(options: { binding: string; scopes?: string[] }) {
  return createMiddleware<{ Bindings: Record<string, unknown>; Variables: { keyhook: ValidVerdict } }>(
    async (c, next) => {
      const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
      const key = bearer ?? c.req.header("x-api-key");
      if (!key) {
        const code: ErrorCode = "missing_credentials";
        return c.json(
          { error: { code, message: "Send an API key in X-API-Key or Authorization: Bearer" } },
          errorStatus[code],
        );
      }
      const binding = c.env[options.binding] as KeyhookBinding | undefined;
      if (!binding) throw new Error(`keyhookAuth: no service binding named ${options.binding}`);
      const verdict = await binding.verify(key, options.scopes);
      if (verdict.ratelimit) {
        c.header("X-RateLimit-Limit", String(verdict.ratelimit.limit));
        c.header("X-RateLimit-Remaining", String(verdict.ratelimit.remaining));
        c.header("X-RateLimit-Reset", String(verdict.ratelimit.reset));
      }
      if (!verdict.valid || verdict.accountId === null || verdict.name === null) {
        // The code and status Keyhook itself answers a request made with this key.
        const refusal = refusalOf[verdict.code as Exclude<VerifyCode, "VALID">] ?? refusalOf.NOT_FOUND;
        const status = errorStatus[refusal.code] as 401 | 403 | 429;
        if (status === 429 && verdict.ratelimit)
          c.header("Retry-After", String(Math.max(1, verdict.ratelimit.reset - Math.floor(Date.now() / 1000))));
        return c.json({ error: { code: refusal.code, message: refusal.message } }, status);
      }
      c.set("keyhook", { ...verdict, valid: true, accountId: verdict.accountId, name: verdict.name });
      await next();
    },
  );
}

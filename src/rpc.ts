import { WorkerEntrypoint } from "cloudflare:workers";
import { createDb } from "./db/client";
import { findAccount } from "./features/accounts/accounts.repo";
import { PublishBody } from "./features/events/events.routes";
import { publishEvent } from "./features/events/events.service";
import { keyRequests } from "./features/ratelimit/limits";
import { verifyKey } from "./features/verify/verify.service";
import { readSettings } from "./lib/config";
import { runnerDeps } from "./queue/deps";
import { ApiError } from "./lib/errors";
import { validationError } from "./lib/create-router";

/**
 * Keyhook for other Workers, through a service binding (no network hop):
 * `[[services]] binding = "KEYHOOK", service = "keyhook", entrypoint = "KeyhookRpc"`.
 * A binding is trusted like the operator: `verify` finds keys of every account.
 * @see https://developers.cloudflare.com/workers/runtime-apis/bindings/service-bindings/rpc/
 */
export class KeyhookRpc extends WorkerEntrypoint<Env> {
  /** The same answer as `POST /v1/keys/verify`; counts toward the key's hourly limit. */
  async verify(key: string, scopes?: string[]) {
    const env = this.env;
    return verifyKey(
      {
        db: createDb(env.DB),
        settings: readSettings(env),
        counter: keyRequests(env.RATE_LIMITS),
        callerAccountId: null,
        now: Date.now(),
        waitUntil: (p) => this.ctx.waitUntil(p),
      },
      String(key),
      Array.isArray(scopes) ? scopes.map(String) : [],
    );
  }

  /**
   * The same as `POST /v1/events` in that account: `{type, entity, idempotencyKey?}` →
   * `{event, deliveries}`, or `{error: {code, message, details?}}` (the API's error shape: errors
   * are answered, not thrown, since a thrown error loses its code across RPC).
   */
  async publish(accountId: string, event: { type: string; entity: Record<string, unknown>; idempotencyKey?: string }) {
    const parsed = PublishBody.safeParse(event);
    if (!parsed.success) return errorOf(validationError(parsed.error.issues));
    const db = createDb(this.env.DB);
    const account = await findAccount(db, String(accountId));
    if (!account) return errorOf(new ApiError("not_found", "Account not found"));
    const { event: published, deliveries } = await publishEvent(
      {
        db,
        queue: this.env.DELIVERIES,
        accountId: account.id,
        now: Date.now(),
        webhooksVersion: account.webhooksVersion,
        firstAttempt: { runner: runnerDeps(this.env), waitUntil: (p) => this.ctx.waitUntil(p) },
      },
      parsed.data,
    );
    return { event: published, deliveries };
  }
}

const errorOf = (err: ApiError) => ({
  error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) },
});

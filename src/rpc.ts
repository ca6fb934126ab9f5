import { WorkerEntrypoint } from "cloudflare:workers";
import { compose } from "./compose";
import { MAX_COST } from "./features/keys/credits";
import { unavailableOf } from "./lib/dependencies";
import { ApiError } from "./lib/errors";

/**
 * Keyhook for other Workers, through a service binding (no network hop):
 * `[[services]] binding = "KEYHOOK", service = "keyhook", entrypoint = "KeyhookRpc"`.
 * A binding is trusted like the operator: `verify` finds keys of every account. An adapter: the
 * same services as the API, answered as values (a thrown error loses its code across RPC).
 * @see https://developers.cloudflare.com/workers/runtime-apis/bindings/service-bindings/rpc/
 */
export class KeyhookRpc extends WorkerEntrypoint<Env> {
  private services() {
    return compose(this.env, {
      waitUntil: (p) => this.ctx.waitUntil(p),
      requestId: `rpc-${crypto.randomUUID()}`,
      exports: this.ctx.exports,
    });
  }

  /**
   * The same answer as `POST /v1/keys/verify`; counts toward the key's hourly limit and spends
   * `options.cost` (default 1) of its credits, if it has any.
   */
  async verify(key: string, scopes?: string[], options?: { cost?: number }) {
    const services = this.services();
    const cost = Number(options?.cost ?? 1);
    return services.auth.verify(String(key), {
      scopes: Array.isArray(scopes) ? scopes.map(String) : [],
      cost: Number.isInteger(cost) && cost >= 0 ? Math.min(cost, MAX_COST) : 1,
    });
  }

  /**
   * The same as `POST /v1/events` in that account: `{type, entity, idempotencyKey?}` →
   * `{event, deliveries}`, or `{error: {code, message, details?}}` (the API's error shape).
   */
  async publish(accountId: string, event: { type: string; entity: Record<string, unknown>; idempotencyKey?: string }) {
    const services = this.services();
    try {
      const account = await services.accounts.find(String(accountId));
      if (!account) throw new ApiError("not_found", "Account not found");
      return await services.events.publish({ accountId: account.id, webhooksVersion: account.webhooksVersion }, event);
    } catch (err) {
      if (err instanceof ApiError) return errorOf(err);
      if (unavailableOf(err)) {
        return errorOf(new ApiError("service_unavailable", "Keyhook's database is not answering; try again shortly"));
      }
      throw err;
    }
  }
}

const errorOf = (err: ApiError) => ({
  error: { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) },
});

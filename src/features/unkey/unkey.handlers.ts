import type { Context, Handler } from "hono";
import type { ZodType, z } from "zod";
import type { AppEnv } from "../../http/context";
import { callerOf } from "../../http/middleware/auth";
import { ApiError, validationError } from "../../lib/errors";
import { auditRow, type Changes } from "../audit/audit.service";

/** What every `/v2` route shares: its body parsed, Unkey's envelope, absent fields left out. */
export type C = Context<AppEnv>;

/** Registers `POST /v2/<name>` for callers holding `scope`. */
export type Op = (name: string, scope: string, handler: Handler<AppEnv>) => void;

export async function body<S extends ZodType>(c: C, schema: S): Promise<z.infer<S>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new ApiError("validation_failed", "The body is not valid JSON", [{ path: "", message: "not JSON" }]);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw validationError(parsed.error.issues);
  return parsed.data;
}

/** Fields whose value is `undefined` are left out (the client refuses `null` where it expects absence). */
export const present = <T extends Record<string, unknown>>(o: T) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

export const ok = (c: C, data: unknown, extra: Record<string, unknown> = {}) =>
  c.json({ meta: { requestId: c.var.requestId ?? "" }, data, ...extra }, 200);

/** The audit entry of a change a `/v2` caller made in its account. */
export const audited = (
  c: C,
  action: string,
  target: { type: string; id: string; name: string | null },
  changes: Changes | null,
) => auditRow(callerOf(c).audit, c.var.accountId, action, target, changes, c.var.services.platform.now());

/**
 * A page of a list read with one row more than `limit`: the items, and Unkey's `pagination` (the
 * cursor is the last item's sort key).
 */
export function paged<T>(c: C, rows: T[], limit: number, cursorOf: (row: T) => string, shape: (row: T) => unknown) {
  const items = rows.slice(0, limit);
  const more = rows.length > limit;
  const last = items.at(-1);
  return ok(c, items.map(shape), {
    pagination: present({ cursor: more && last !== undefined ? cursorOf(last) : undefined, hasMore: more }),
  });
}

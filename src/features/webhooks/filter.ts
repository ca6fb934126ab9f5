import { z } from "@hono/zod-openapi";
import type { StoredFilterCondition } from "../../db/schema";

/** A condition's `value` as JSON, at most: what one condition may cost a publish is bounded by it. */
const MAX_VALUE_CHARS = 4096;

export const FilterCondition = z
  .strictObject({
    field: z.string().min(1).max(200).openapi({ example: "severity" }),
    op: z.enum(["eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "exists"]),
    value: z.unknown().optional(),
    order: z
      .array(z.union([z.string(), z.number()]))
      .min(1)
      .max(100)
      .optional(),
  })
  .superRefine((c, ctx) => {
    if ((c.op === "in" || c.op === "nin") && !Array.isArray(c.value)) {
      ctx.addIssue({ code: "custom", path: ["value"], message: `${c.op} needs an array value` });
    }
    if (c.op !== "exists" && c.value === undefined) {
      ctx.addIssue({ code: "custom", path: ["value"], message: `${c.op} needs a value` });
    }
    if (c.value !== undefined && JSON.stringify(c.value).length > MAX_VALUE_CHARS) {
      ctx.addIssue({ code: "custom", path: ["value"], message: `at most ${MAX_VALUE_CHARS} characters as JSON` });
    }
    if (c.order && !c.order.includes(c.value as string | number)) {
      ctx.addIssue({ code: "custom", path: ["value"], message: "value must be one of order" });
    }
  })
  .openapi("FilterCondition", {
    example: { field: "severity", op: "gte", value: "major", order: ["minor", "major", "critical"] },
  });

export const Filter = z.array(FilterCondition).max(20);
export type FilterCondition = z.infer<typeof FilterCondition>;

/** What the API accepts is what the column stores (a compile-time check, both ways). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _storedAsParsed: Same<FilterCondition, StoredFilterCondition> = true;
void _storedAsParsed;

/** Dotted path into the entity: `customer.tier`. */
function valueAt(entity: unknown, path: string): unknown {
  let v: unknown = entity;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object" || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/**
 * Whether an entity's value equals a filter's value as JSON (object keys in any order). Walks the
 * filter's side, at most {@link MAX_VALUE_CHARS} of JSON, so a publish costs no more per condition
 * however large the entity's value is.
 */
function same(entityValue: unknown, filterValue: unknown): boolean {
  const pairs: [unknown, unknown][] = [[entityValue, filterValue]];
  for (let pair = pairs.pop(); pair !== undefined; pair = pairs.pop()) {
    const [a, b] = pair;
    if (b === null || typeof b !== "object") {
      if (a !== b) return false;
      continue;
    }
    if (a === null || typeof a !== "object" || Array.isArray(a) !== Array.isArray(b)) return false;
    const bKeys = Object.keys(b);
    let aCount = 0;
    for (const _ in a) if (++aCount > bKeys.length) return false;
    if (aCount !== bKeys.length) return false;
    for (const k of bKeys) {
      if (!Object.hasOwn(a, k)) return false;
      pairs.push([(a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]]);
    }
  }
  return true;
}

/** Ordered comparison: by position in `order` when given, else numbers or strings of one kind. */
function compare(a: unknown, b: unknown, order?: (string | number)[]): number | null {
  if (order) {
    const ia = order.indexOf(a as string | number);
    const ib = order.indexOf(b as string | number);
    return ia < 0 || ib < 0 ? null : ia - ib;
  }
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return null;
}

function holds(entity: unknown, c: FilterCondition): boolean {
  const v = valueAt(entity, c.field);
  switch (c.op) {
    case "exists":
      return (v !== undefined) === (c.value === undefined ? true : Boolean(c.value));
    case "eq":
      return same(v, c.value);
    case "ne":
      return !same(v, c.value);
    case "in":
      return (c.value as unknown[]).some((x) => same(v, x));
    case "nin":
      return !(c.value as unknown[]).some((x) => same(v, x));
    default: {
      const d = compare(v, c.value, c.order);
      if (d === null) return false;
      return c.op === "gt" ? d > 0 : c.op === "gte" ? d >= 0 : c.op === "lt" ? d < 0 : d <= 0;
    }
  }
}

/** Every condition must hold; no filter matches everything. */
export function matchesFilter(entity: unknown, filter: FilterCondition[] | null): boolean {
  return !filter || filter.every((c) => holds(entity, c));
}

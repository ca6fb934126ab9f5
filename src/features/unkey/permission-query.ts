import { ApiError } from "../../lib/errors";

/**
 * Unkey's permission query (`keys.verifyKey`'s `permissions`): permissions joined by `AND` and `OR`
 * (any case), with parentheses; `AND` binds tighter than `OR`. A permission holds only if the key
 * has exactly it: `*` is a character, never a wildcard (Unkey's `pkg/rbac`). A query that does not
 * parse is 400.
 */
type Query = { all: Query[] } | { any: Query[] } | { permission: string };

const TOKEN = /\s*(\(|\)|[a-zA-Z0-9_:\-.*]+)/y;

function tokens(text: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(text);
    if (!m) throw invalid(`unexpected character at ${at}: ${JSON.stringify(text.slice(at).trim()[0])}`);
    out.push(m[1] as string);
    at = TOKEN.lastIndex;
  }
  return out;
}

const invalid = (why: string) =>
  new ApiError("validation_failed", `The permissions query does not parse: ${why}`, [
    { path: "permissions", message: why },
  ]);

const isOperator = (t: string | undefined, op: "AND" | "OR") => t !== undefined && t.toUpperCase() === op;

export function parsePermissionQuery(text: string): Query {
  if (text.length > 1000) throw invalid("longer than 1,000 characters");
  const list = tokens(text);
  let i = 0;
  let count = 0;
  const factor = (): Query => {
    const t = list[i];
    if (t === undefined) throw invalid("it ends where a permission was expected");
    if (t === "(") {
      i++;
      const inner = expr();
      if (list[i] !== ")") throw invalid("a parenthesis is not closed");
      i++;
      return inner;
    }
    if (t === ")" || isOperator(t, "AND") || isOperator(t, "OR")) throw invalid(`unexpected ${t}`);
    i++;
    if (++count > 100) throw invalid("more than 100 permissions");
    return { permission: t };
  };
  const term = (): Query => {
    const parts = [factor()];
    while (isOperator(list[i], "AND")) {
      i++;
      parts.push(factor());
    }
    return parts.length === 1 ? (parts[0] as Query) : { all: parts };
  };
  const expr = (): Query => {
    const parts = [term()];
    while (isOperator(list[i], "OR")) {
      i++;
      parts.push(term());
    }
    return parts.length === 1 ? (parts[0] as Query) : { any: parts };
  };
  const query = expr();
  if (i < list.length) throw invalid(`unexpected ${list[i]}`);
  return query;
}

/** Whether a key holding exactly `held` satisfies the query. */
export function satisfies(query: Query, held: ReadonlySet<string>): boolean {
  if ("permission" in query) return held.has(query.permission);
  if ("all" in query) return query.all.every((q) => satisfies(q, held));
  return query.any.some((q) => satisfies(q, held));
}

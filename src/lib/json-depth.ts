import { ApiError } from "./errors";

/**
 * How deep JSON may nest wherever Keyhook accepts it (request bodies, entities from a service
 * binding, schemas, examples, metadata, filters) or reads it back from storage. `{}` and `[]` are
 * one level. JSON.parse does not recurse, but JSON.stringify and every walk over a value do: below
 * this limit none of them can exhaust the stack.
 */
export const MAX_JSON_DEPTH = 64;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whether JSON text nests deeper than `limit`: one pass over the characters, nothing parsed. */
export function textNestsDeeper(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/** Whether a value nests deeper than `limit`: an explicit stack, never recursion. */
export function valueNestsDeeper(value: unknown, limit = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  const seen = new Set<object>();
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [node, depth] = top;
    if (node === null || typeof node !== "object" || seen.has(node)) continue;
    if (depth + 1 > limit) return true;
    seen.add(node);
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

/** 400 `validation_failed` naming the limit and where. */
export function tooDeep(path: string): ApiError {
  const message = `nests deeper than ${MAX_JSON_DEPTH} levels, Keyhook's limit for JSON`;
  return new ApiError("validation_failed", `Invalid request: ${path}: ${message}`, [{ path, message }]);
}

/** Throws {@link tooDeep} if the value nests deeper than the limit. */
export function assertShallow(value: unknown, path: string) {
  if (valueNestsDeeper(value)) throw tooDeep(path);
}

/**
 * What a stored JSON document deeper than the limit reads back as (it could only have been written
 * before the limit existed): a flat stand-in that carries the document's text, so nothing walks it
 * and nothing is lost when it is shown, moved to the archive or exported.
 */
export function tooDeepStandIn(text: string) {
  return {
    keyhookError: "json_too_deep",
    message: `Stored before Keyhook limited JSON to ${MAX_JSON_DEPTH} levels, and nested deeper: its text is in json`,
    json: text,
  };
}

/** Stored JSON text, parsed, or {@link tooDeepStandIn} when it nests deeper than the limit. */
export function readStoredJson(text: string): unknown {
  return textNestsDeeper(text) ? tooDeepStandIn(text) : JSON.parse(text);
}

/** Whether a value read back is {@link tooDeepStandIn}'s. */
export const isTooDeepStored = (value: unknown) =>
  typeof value === "object" && value !== null && (value as { keyhookError?: unknown }).keyhookError === "json_too_deep";

/**
 * The length of a value as JSON, checked shallow first; a value that is not JSON (a cycle, a
 * BigInt: only a service binding can send one) is 400 naming `path`.
 */
export function jsonLength(value: unknown, path: string): number {
  assertShallow(value, path);
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    throw new ApiError("validation_failed", `Invalid request: ${path}: not JSON`, [{ path, message: "not JSON" }]);
  }
}

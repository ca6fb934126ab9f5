import { IsolateMap } from "./isolate-memory";

/**
 * Log lines are one JSON object each, with the invocation's request id and never a secret: error
 * texts are cut to their first line and anything shaped like a key, a token or a hash is redacted.
 */
type Level = "info" | "warn" | "error";
export type Log = (level: Level, msg: string, fields?: Record<string, unknown>) => void;

/** The first line of a text, capped, with anything shaped like a key, a token or a hash redacted. */
export const redact = (text: string) =>
  (text.split("\n")[0] ?? "")
    .slice(0, 200)
    .replace(/[0-9a-f]{64}|[a-z0-9]+_(live|test|at|rt)_\w+|eyJ[\w-]+\.[\w-]+\.[\w-]*/gi, "[redacted]");

/** An error as a log field: its message (and its cause's), redacted. */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return redact(String(err));
  const cause = err.cause instanceof Error ? ` (cause: ${redact(err.cause.message)})` : "";
  return redact(`${err.name}: ${err.message}`) + cause;
}

export function logger(requestId: string | null): Log {
  return (level, msg, fields = {}) => {
    const line = JSON.stringify({ level, msg, requestId, ...fields });
    if (level === "info") console.log(line);
    else console.error(line);
  };
}

const lastLogged = new IsolateMap<string, number>("log lines once a minute", 1000);

/** True at most once a minute per `key` in this isolate: for a failure that repeats on every request. */
export function onceAMinute(key: string, now = Date.now()): boolean {
  const last = lastLogged.get(key) ?? 0;
  if (now - last < 60_000) return false;
  lastLogged.set(key, now);
  return true;
}

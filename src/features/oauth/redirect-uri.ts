const LOOPBACK = new Set(["127.0.0.1", "[::1]", "localhost"]);

/** `https://…`, or `http://` to a loopback host (RFC 8252 §7.3); never a fragment or credentials. */
export function isAcceptableRedirectUri(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.hash || url.username || url.password || value.length > 2000) return false;
  return url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.has(url.hostname));
}

/** Exact match, except that a loopback redirect may use any port (RFC 8252 §7.3, OAuth 2.1 §8.4.2). */
export function matchesRedirectUri(registered: readonly string[], given: string): boolean {
  if (registered.includes(given)) return true;
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    return false;
  }
  if (url.protocol !== "http:" || !LOOPBACK.has(url.hostname)) return false;
  url.port = "";
  return registered.some((r) => {
    const candidate = new URL(r);
    if (candidate.protocol !== "http:" || !LOOPBACK.has(candidate.hostname)) return false;
    candidate.port = "";
    return candidate.href === url.href;
  });
}

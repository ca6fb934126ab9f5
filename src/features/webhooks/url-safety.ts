/**
 * SSRF defence for webhook URLs, applied at registration and again at send time. Production
 * Workers cannot reach private networks, but Miniflare can, and a URL may point at our own zone
 * or another Worker, so this validator is the defence the tests exercise.
 * @see https://developers.cloudflare.com/workers/platform/known-issues/
 */
export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

const METADATA_HOSTS = new Set([
  "metadata.google.internal",
  "metadata.goog",
  "metadata",
  "instance-data",
  "169.254.169.254",
  "fd00:ec2::254",
  "100.100.100.200",
]);

function parseIPv4(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

/** The IPv4 address inside an IPv4-mapped or -compatible IPv6 literal (`::ffff:7f00:1`), if any. */
function mappedIPv4(v6: string): number[] | null {
  const m = /^::(ffff:)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6) ?? /^::(ffff:)?(\d+\.\d+\.\d+\.\d+)$/.exec(v6);
  if (!m) return null;
  const [, , head = "", tail] = m;
  if (tail === undefined) return parseIPv4(head);
  const hi = parseInt(head, 16);
  const lo = parseInt(tail, 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255];
}

const isLinkLocalV4 = ([a, b]: number[]) => a === 169 && b === 254;
const isLinkLocalV6 = (v6: string) => /^fe[89ab][0-9a-f]?:/.test(v6);

function matchesPattern(host: string, pattern: string): boolean {
  if (pattern.startsWith("*.")) return host.endsWith(pattern.slice(1)) || host === pattern.slice(2);
  return host === pattern;
}

/**
 * Refuses userinfo, IP literals in any spelling (the WHATWG parser already turns decimal, hex
 * and octal IPv4 into dotted form), localhost and private suffixes, metadata hosts and the
 * deny list; requires https on 443. `allowPrivate` (local development) permits http, any port,
 * loopback and private addresses — but never link-local or metadata addresses.
 */
export function checkWebhookUrl(raw: string, opts: { allowPrivate: boolean; denyHosts: string[] }): UrlVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "not a valid absolute URL" };
  }
  const { allowPrivate } = opts;
  if (url.protocol !== "https:" && !(allowPrivate && url.protocol === "http:")) {
    return { ok: false, reason: "the URL must use https://" };
  }
  if (url.username || url.password) return { ok: false, reason: "credentials in the URL (userinfo) are not allowed" };
  if (url.port && url.port !== "443" && !allowPrivate) return { ok: false, reason: "only port 443 is allowed" };
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (METADATA_HOSTS.has(host) || METADATA_HOSTS.has(host.replace(/^\[|\]$/g, ""))) {
    return { ok: false, reason: "cloud metadata hosts are not allowed" };
  }
  if (host.startsWith("[")) {
    const v6 = host.slice(1, -1);
    const v4 = mappedIPv4(v6);
    if (isLinkLocalV6(v6) || (v4 && isLinkLocalV4(v4)))
      return { ok: false, reason: "link-local addresses are not allowed" };
    return allowPrivate ? { ok: true, url } : { ok: false, reason: "IP addresses are not allowed; use a hostname" };
  }
  const v4 = parseIPv4(host);
  if (v4) {
    if (isLinkLocalV4(v4)) return { ok: false, reason: "link-local addresses are not allowed" };
    return allowPrivate ? { ok: true, url } : { ok: false, reason: "IP addresses are not allowed; use a hostname" };
  }
  for (const pattern of opts.denyHosts) {
    if (matchesPattern(host, pattern))
      return { ok: false, reason: `the host ${host} is on this deployment's deny list` };
  }
  if (allowPrivate) return { ok: true, url };
  if (host === "localhost" || host.endsWith(".localhost")) return { ok: false, reason: "localhost is not allowed" };
  if (/\.(local|internal|lan|home\.arpa)$/.test(host))
    return { ok: false, reason: "private network names are not allowed" };
  if (!host.includes(".")) return { ok: false, reason: "the host must be a public domain name" };
  return { ok: true, url };
}

/** Keyhook's own event types, emitted through the same path as the host's. */
const BUILT_IN_EVENT_TYPES = [
  {
    name: "api_key.created",
    description: "An API key was created (the entity never holds the secret).",
    example: {
      id: "key_01jd8x0000AbCdEfGhIjKlMn",
      name: "CI/CD Pipeline",
      prefix: "kh_live_Ab3x",
      scopes: ["keys:read"],
    },
  },
  {
    name: "api_key.updated",
    description: "An API key's name, scopes, profile, expiry, rate limit, metadata or state changed.",
    example: { id: "key_01jd8x0000AbCdEfGhIjKlMn", name: "CI/CD Pipeline", enabled: false },
  },
  {
    name: "api_key.rotated",
    description: "An API key got a new secret.",
    example: { id: "key_01jd8x0000AbCdEfGhIjKlMn", name: "CI/CD Pipeline", last4: "9fQz" },
  },
  {
    name: "api_key.revoked",
    description: "An API key was revoked; it is refused from now on.",
    example: { id: "key_01jd8x0000AbCdEfGhIjKlMn", name: "CI/CD Pipeline" },
  },
  {
    name: "api_key.expiring",
    description: "An API key expires within 7 days.",
    example: { id: "key_01jd8x0000AbCdEfGhIjKlMn", name: "CI/CD Pipeline", expiresAt: "2026-12-01T00:00:00.000Z" },
  },
  {
    name: "api_key.credits_updated",
    description: "An API key's usage credits were set, increased or decreased by hand.",
    example: { id: "key_01jd8x0000AbCdEfGhIjKlMn", name: "CI/CD Pipeline", credits: { remaining: 1000 } },
  },
  {
    name: "api_key.credits_low",
    description: "An API key's usage credits fell to its low-credit threshold (once per crossing).",
    example: { id: "key_01jd8x0000AbCdEfGhIjKlMn", name: "CI/CD Pipeline", remaining: 100, threshold: 100 },
  },
  {
    name: "api_key.credits_exhausted",
    description: "An API key spent its last usage credit; it is refused until a refill or a top-up.",
    example: {
      id: "key_01jd8x0000AbCdEfGhIjKlMn",
      name: "CI/CD Pipeline",
      nextRefillAt: "2026-12-01T00:00:00.000Z",
    },
  },
  {
    name: "oauth_client.created",
    description: "An OAuth client was registered in the account (the entity never holds the secret).",
    example: { id: "ocl_01jd8x0000AbCdEfGhIjKlMn", name: "Zapier", type: "confidential", scopes: ["keys:read"] },
  },
  {
    name: "oauth_client.updated",
    description: "An OAuth client's name, redirect URIs, scopes or state changed.",
    example: { id: "ocl_01jd8x0000AbCdEfGhIjKlMn", name: "Zapier", enabled: false },
  },
  {
    name: "oauth_client.secret_rotated",
    description: "An OAuth client got a new secret; the old one is refused.",
    example: { id: "ocl_01jd8x0000AbCdEfGhIjKlMn", name: "Zapier", secretLast4: "9fQz" },
  },
  {
    name: "oauth_client.deleted",
    description: "An OAuth client was deleted with its grants and tokens.",
    example: { id: "ocl_01jd8x0000AbCdEfGhIjKlMn", name: "Zapier" },
  },
  {
    name: "webhook.disabled",
    description: "A webhook was disabled: its endpoint answered 410, or kept failing.",
    example: { id: "wh_01jd8x0000AbCdEfGhIjKlMn", url: "https://example.com/hooks", reason: "410 Gone" },
  },
  {
    name: "webhook.test",
    description: "A synthetic event sent by 'Send test event'.",
    example: { message: "This is a test event from Keyhook" },
  },
] as const;

/** Keyhook's own types as the catalog shows them (the `Keyhook` group, no schema). */
export const BUILT_IN_TYPES = BUILT_IN_EVENT_TYPES.map((t) => ({
  name: t.name as string,
  description: t.description as string | null,
  group: "Keyhook",
  schema: null as Record<string, unknown> | boolean | null,
  examples: [t.example as Record<string, unknown>],
  example: t.example as unknown,
  validate: false,
  deprecated: false,
  archived: false,
  builtIn: true,
}));

export const BUILT_IN_NAMES: ReadonlySet<string> = new Set(BUILT_IN_EVENT_TYPES.map((t) => t.name));

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { readSettings } from "../src/config";
import { generateApiKey, isWellFormedApiKey } from "../src/features/keys/key-format";
import { crc32 } from "../src/lib/encoding";
import { hasPermission, missingPermissions } from "../src/lib/permissions";

const settings = readSettings(env);

describe("key format", () => {
  it("is kh_<env>_<32 base62><6-char checksum> with a non-secret prefix and last4", () => {
    const { key, prefix, last4 } = generateApiKey(settings);
    expect(key).toMatch(/^kh_live_[0-9A-Za-z]{38}$/);
    expect(prefix).toBe(key.slice(0, 12));
    expect(last4).toBe(key.slice(-4));
    expect(isWellFormedApiKey(key, settings)).toBe(true);
  });

  it("uses the configured prefix and env", () => {
    const { key } = generateApiKey({ ...settings, keyPrefix: "acme", keyEnv: "test" });
    expect(key).toMatch(/^acme_test_[0-9A-Za-z]{38}$/);
  });

  it("rejects any single-character change by checksum, before any lookup", () => {
    const { key } = generateApiKey(settings);
    for (const i of [8, 20, key.length - 7, key.length - 1]) {
      const swapped = key.slice(0, i) + (key[i] === "a" ? "b" : "a") + key.slice(i + 1);
      expect(isWellFormedApiKey(swapped, settings)).toBe(false);
    }
    expect(isWellFormedApiKey(key.slice(0, -1), settings)).toBe(false);
    expect(isWellFormedApiKey(`${key}x`, settings)).toBe(false);
    expect(isWellFormedApiKey("kh_live_short", settings)).toBe(false);
  });

  it("is random: no two keys alike", () => {
    const keys = new Set(Array.from({ length: 200 }, () => generateApiKey(settings).key));
    expect(keys.size).toBe(200);
  });

  it("CRC-32 matches the IEEE check value", () => {
    expect(crc32("123456789")).toBe(0xcbf43926);
    // Non-ASCII text is checksummed over its UTF-8 bytes ("é" is C3 A9), as before the ASCII fast path.
    expect(crc32("é")).toBe(0x0e048d3e);
  });
});

describe("permissions", () => {
  it.each([
    [["*"], "keys:write", true],
    [["keys:*"], "keys:write", true],
    [["keys:write"], "keys:read", true],
    [["keys:read"], "keys:write", false],
    [["keys:read"], "webhooks:read", false],
    [["audits:read"], "audit:read", false],
    [["webhooks:write"], "webhooks:read", true],
    [[], "keys:read", false],
    [["impersonate"], "impersonate", true],
    [["keys:*"], "impersonate", false],
  ] as const)("%j covers %s: %s", (granted, required, expected) => {
    expect(hasPermission(granted, required)).toBe(expected);
  });

  it("names what is missing", () => {
    expect(missingPermissions(["keys:read"], ["keys:read", "audit:read", "keys:write"])).toEqual([
      "audit:read",
      "keys:write",
    ]);
  });
});

describe("version", () => {
  it("the User-Agent version is the package's", async () => {
    const { KEYHOOK_VERSION } = await import("../src/lib/version");
    const pkg = (await import("../package.json")).default;
    expect(KEYHOOK_VERSION).toBe(pkg.version);
  });
});

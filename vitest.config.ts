import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => {
  // The same flat drizzle-kit output that `wrangler d1 migrations apply` reads.
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  const shim = (name: string) => path.join(import.meta.dirname, "src/features/mcp/shims", name);
  return {
    // The same stand-ins as wrangler.toml's [alias], so the tests run the code that is deployed.
    // The official Unkey client (test/unkey.test.ts, never in the Worker) gets the real zod/v3.
    resolve: {
      alias: [
        { find: "ajv", replacement: shim("ajv.ts") },
        { find: "ajv-formats", replacement: shim("ajv-formats.ts") },
        {
          find: /^zod\/v3$/,
          replacement: shim("zod-v3.ts"),
          customResolver: (id: string, importer: string | undefined) =>
            importer?.includes("/node_modules/@unkey/")
              ? path.join(import.meta.dirname, "node_modules/zod/v3/index.js")
              : id,
        },
        { find: "zod-to-json-schema", replacement: shim("zod-to-json-schema.ts") },
      ],
    },
    plugins: [
      cloudflareTest(({ inject }) => ({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            ADMIN_TOKEN: "test-admin-token-0123456789abcdef",
            JWT_SECRET: "test-jwt-secret-0123456789abcdef",
            WEBHOOK_SECRET_KEY: "test-webhook-secret-key-0123456789",
            // Local receiver on loopback, short schedule and timeout so retries happen within a test.
            WEBHOOK_ALLOW_PRIVATE_URLS: "true",
            WEBHOOK_RETRY_DELAYS: "1,1,1",
            // Verification at the edge through the local stand-in; a short fill window keeps each
            // change's wait for its purge short (a local D1 read takes a few ms).
            EDGE_CACHE: "local",
            EDGE_FILL_WINDOW_MS: "30",
            WEBHOOK_TIMEOUT_MS: "1500",
            RECEIVER_URL: `http://127.0.0.1:${inject("receiverPort")}`,
            // An identity provider on loopback: test/jwks.test.ts publishes its key set there.
            JWT_JWKS_URL: `http://127.0.0.1:${inject("receiverPort")}/jwks/main`,
            JWT_ISSUER: "https://idp.keyhook.test/",
            JWT_AUDIENCE: "keyhook-tests",
            JWT_JWKS_COOLDOWN_SECONDS: "1",
            // The host application's login page: test/oauth.test.ts follows the redirect itself.
            OAUTH_LOGIN_URL: "https://app.keyhook.test/login",
            OAUTH_DYNAMIC_REGISTRATION: "true",
            // The page that frames the customer portal (test/portal.test.ts).
            PORTAL_FRAME_ANCESTORS: "https://app.keyhook.test",
          },
          // A database the migration test writes in the previous layout, then upgrades.
          d1Databases: { UPGRADE_DB: "upgrade-db" },
          // Replaces wrangler.toml's consumer settings in tests, so it restates them, faster.
          queueConsumers: {
            "keyhook-deliveries": { maxBatchTimeout: 0.05, maxRetries: 100, deadLetterQueue: "keyhook-deliveries-dlq" },
          },
        },
      })),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      globalSetup: ["./test/setup/global.ts"],
      setupFiles: ["./test/setup/apply-migrations.ts"],
      // Deliveries go through a real queue and a real HTTP receiver: give them time on a busy machine
      // (two shared cores in CI), and every test longer than the polls inside it.
      expect: { poll: { timeout: 10_000, interval: 50 } },
      testTimeout: 30_000,
    },
  };
});

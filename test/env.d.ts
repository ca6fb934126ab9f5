declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    /** The loopback receiver started by test/setup/global.ts. */
    RECEIVER_URL: string;
  }
}

declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    /** test/migration.test.ts: a database written in the previous layout, then upgraded. */
    UPGRADE_DB: D1Database;
    /** The loopback receiver started by test/setup/global.ts. */
    RECEIVER_URL: string;
  }
}

/** A file's text (Vite's `?raw`): the docs the tests compare against the code. */
declare module "*?raw" {
  const content: string;
  export default content;
}

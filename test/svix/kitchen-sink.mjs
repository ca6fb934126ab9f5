#!/usr/bin/env node
// `npm run test:svix`: the `svix` package's own KitchenSink.test.ts, unmodified, against Keyhook
// under `npm run dev` — the way Svix runs it against its own server: SVIX_SERVER_URL and
// SVIX_TOKEN (the operator token). Its node:test output is passed through (CI counts its lines).
import { spawnSync } from "node:child_process";
import { devVar, startKeyhook } from "../browser/harness.mjs";

const port = process.env.KEYHOOK_TEST_PORT ?? "8793";
const keyhook = await startKeyhook();
let status = 1;
try {
  const run = spawnSync(process.execPath, ["--import", "tsx", "node_modules/svix/src/KitchenSink.test.ts"], {
    stdio: "inherit",
    env: { ...process.env, SVIX_SERVER_URL: `http://localhost:${port}`, SVIX_TOKEN: devVar("ADMIN_TOKEN") },
  });
  status = run.status ?? 1;
} finally {
  keyhook.stop();
}
process.exit(status);

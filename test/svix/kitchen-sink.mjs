#!/usr/bin/env node
// `npm run test:svix`: the `svix` package's own KitchenSink.test.ts, unmodified, against Keyhook
// under `npm run dev` — the way Svix runs it against its own server: SVIX_SERVER_URL and
// SVIX_TOKEN: an operator key made for it (what a Svix token is here). Its node:test output is
// passed through (CI counts its lines).
import { spawnSync } from "node:child_process";
import { apiCall, devVar, startKeyhook } from "../browser/harness.mjs";

const port = process.env.KEYHOOK_TEST_PORT ?? "8793";
const keyhook = await startKeyhook();
let status = 1;
try {
  const made = await apiCall("POST", "/v1/deployment/operator-keys", {
    token: devVar("ADMIN_TOKEN"),
    body: { name: "Svix kitchen sink", scopes: ["operator:write"] },
  });
  if (made.status !== 201) throw new Error(`operator key: ${JSON.stringify(made.body)}`);
  const run = spawnSync(process.execPath, ["--import", "tsx", "node_modules/svix/src/KitchenSink.test.ts"], {
    stdio: "inherit",
    env: { ...process.env, SVIX_SERVER_URL: `http://localhost:${port}`, SVIX_TOKEN: made.body.key },
  });
  status = run.status ?? 1;
} finally {
  keyhook.stop();
}
process.exit(status);

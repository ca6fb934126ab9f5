#!/usr/bin/env node
// The `keyhook` CLI. It is TypeScript run by Node's type stripping (Node ≥ 22.18); on an older
// Node it re-runs itself on the Node this package pins (node_modules/node).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  const pinned = fileURLToPath(new URL("../node_modules/node/bin/node", import.meta.url));
  if (!existsSync(pinned)) {
    console.error("keyhook needs Node 22.18 or newer (run `npm install` to get the pinned one)");
    process.exit(2);
  }
  const run = spawnSync(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(run.status ?? 1);
}
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2), process.env);

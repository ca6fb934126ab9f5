#!/usr/bin/env node
// `npm run dev`: local secrets, local migrations, then `wrangler dev` on port 8787.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const PORT = process.env.PORT ?? "8787";

/** Creates .dev.vars from .dev.vars.example, replacing each `<generate>` with a fresh secret. */
function ensureDevVars() {
  if (existsSync(".dev.vars")) return false;
  const example = readFileSync(".dev.vars.example", "utf8");
  writeFileSync(".dev.vars", example.replace(/<generate>/g, () => randomBytes(32).toString("hex")), { mode: 0o600 });
  return true;
}

function readDevVar(name) {
  const line = readFileSync(".dev.vars", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1).trim();
}

const created = ensureDevVars();
const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local"], {
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, CI: "true" }, // no interactive confirmation
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

console.log(`
  Keyhook is starting on http://localhost:${PORT}
  Operator token (ADMIN_TOKEN, from .dev.vars${created ? ", just generated" : ""}):
    ${readDevVar("ADMIN_TOKEN")}
`);

const dev = spawn("wrangler", ["dev", "--port", PORT, ...process.argv.slice(2)], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));

#!/usr/bin/env node
// `npm run dev`: local secrets, local migrations, then `wrangler dev` on port 8787.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";

const PORT = process.env.PORT ?? "8787";

const fill = (text) => text.replace(/<generate>/g, () => randomBytes(32).toString("hex"));
/**
 * Settings only local development uses, never offered as production secrets (so not in
 * .dev.vars.example, which the Deploy to Cloudflare button reads): receivers on loopback and
 * http://, and the local stand-in for Workers Cache (a Durable Object per process).
 */
const DEV_ONLY = "WEBHOOK_ALLOW_PRIVATE_URLS=true\nEDGE_CACHE=local\n";

/**
 * Creates .dev.vars from .dev.vars.example, replacing each `<generate>` with a fresh secret; an
 * existing .dev.vars keeps its values and only gains the settings it lacks (after an upgrade).
 */
function ensureDevVars() {
  const example = `${readFileSync(".dev.vars.example", "utf8")}${DEV_ONLY}`;
  if (!existsSync(".dev.vars")) {
    writeFileSync(".dev.vars", fill(example), { mode: 0o600 });
    return true;
  }
  const current = readFileSync(".dev.vars", "utf8");
  const have = new Set(current.split("\n").map((l) => l.split("=")[0].trim()));
  const missing = example.split("\n").filter((l) => /^[A-Z_]+=/.test(l) && !have.has(l.split("=")[0]));
  if (missing.length > 0) {
    appendFileSync(".dev.vars", `${current.endsWith("\n") ? "" : "\n"}${fill(missing.join("\n"))}\n`);
  }
  return false;
}

function readDevVar(name) {
  const line = readFileSync(".dev.vars", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1).trim();
}

const created = ensureDevVars();
// `npm run dev -- --persist-to <dir>` keeps its state elsewhere: migrate that state, not the default.
const persistAt = process.argv.indexOf("--persist-to");
const persist = persistAt > 0 ? ["--persist-to", process.argv[persistAt + 1]] : [];
const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local", ...persist], {
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, CI: "true" }, // no interactive confirmation
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

console.log(`
  Keyhook is starting on http://localhost:${PORT}
  Operator token (ADMIN_TOKEN, from .dev.vars${created ? ", just generated" : ""}):
    ${readDevVar("ADMIN_TOKEN")}
`);

const dev = spawn("wrangler", ["dev", "--port", PORT, "--test-scheduled", ...process.argv.slice(2)], {
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));

// The cron, as Cloudflare runs it when deployed: once when the Worker answers, then every minute
// (`wrangler dev` runs a scheduled handler only when asked: `--test-scheduled`, /__scheduled).
const cron = async () => {
  await fetch(`http://localhost:${PORT}/__scheduled?cron=${encodeURIComponent("* * * * *")}`).catch(() => {});
};
const ready = setInterval(async () => {
  const up = await fetch(`http://localhost:${PORT}/health`).then(
    (r) => r.ok,
    () => false,
  );
  if (!up) return;
  clearInterval(ready);
  await cron();
  setInterval(cron, 60_000).unref();
}, 500);
ready.unref();

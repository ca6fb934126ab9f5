#!/usr/bin/env node
// `npm run deploy [-- --dry-run]`: from a clone and `wrangler login` (or CLOUDFLARE_API_TOKEN) to a
// working Keyhook on Cloudflare, and the same again on every later run (docs/deploy.md):
//
//   1. who is logged in (`wrangler whoami --json`): nothing happens without an account;
//   2. which secrets the Worker has (`wrangler secret list`): a missing one is taken from the
//      environment or generated; one that exists is never sent again, and a list that fails for any
//      reason but "no such Worker" stops the deploy (a new WEBHOOK_SECRET_KEY over the old one
//      would make every stored webhook secret unreadable);
//   3. the admin page built (`npm run build:ui`);
//   4. D1: found by name, else created (`KEYHOOK_D1_LOCATION` is its location hint), and the
//      migrations applied to it before the code that needs them goes live;
//   5. `wrangler deploy`: it creates the KV namespace, the R2 bucket and both queues by itself
//      (wrangler's provisioning: wrangler.toml holds no ids) and attaches the queue consumers and
//      the cron; the missing secrets go with this first version (`--secrets-file`);
//   6. the R2 lifecycle rule for the history's retention (`WEBHOOK_RETENTION_DAYS`);
//   7. the URL, where the operator token is, and the next command to try.
//
// `--dry-run` runs only the read-only steps (1, 2 and D1's lookup) and prints every other one as it
// would run it. KEYHOOK_WRANGLER names the wrangler to run (a test's stand-in).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const DRY = process.argv.includes("--dry-run");
const WRANGLER = process.env.KEYHOOK_WRANGLER ?? "node_modules/.bin/wrangler";
/** Workers Builds (the Deploy button) and every CI set CI; without a terminal nobody can read a token. */
const UNATTENDED = Boolean(process.env.CI || process.env.WORKERS_CI) || !process.stdout.isTTY;

const config = readFileSync("wrangler.toml", "utf8");
/** A string value of wrangler.toml (`key = "value"`), the first one. */
const setting = (key) => new RegExp(`^${key}\\s*=\\s*"([^"]*)"`, "m").exec(config)?.[1];
const WORKER = setting("name") ?? "keyhook";
const DATABASE = setting("database_name") ?? "keyhook";
const BUCKET = setting("bucket_name") ?? "keyhook-history";
const RETENTION_DAYS = Number(setting("WEBHOOK_RETENTION_DAYS") ?? 30);
/** `[secrets] required` in wrangler.toml: what `wrangler deploy` refuses to go without. */
const REQUIRED = JSON.parse(
  (/^\[secrets\][^[]*?required\s*=\s*(\[[^\]]*\])/m.exec(config)?.[1] ?? "[]").replace(/,\s*\]/, "]"),
);
if (REQUIRED.length === 0) {
  console.error(
    "wrangler.toml has no `[secrets] required = [...]`: the deploy cannot tell which secrets Keyhook needs.",
  );
  process.exit(1);
}
/** How each secret is made when it is missing (docs/deploy.md "Secrets"). */
const GENERATE = {
  ADMIN_TOKEN: () => randomBytes(32).toString("hex"),
  JWT_SECRET: () => randomBytes(32).toString("hex"),
  WEBHOOK_SECRET_KEY: () => randomBytes(32).toString("base64"),
};

class Stop extends Error {}
const step = (text) => console.log(`\n▸ ${text}`);

/** Runs wrangler and answers its output; a mutating command is only printed on a dry run. */
function wrangler(args, { mutates = false, quiet = false } = {}) {
  const shown = `wrangler ${args.join(" ")}`;
  if (DRY && mutates) {
    console.log(`  would run: ${shown}`);
    return { ok: true, out: "" };
  }
  if (!quiet) console.log(`  $ ${shown}`);
  const r = spawnSync(WRANGLER, args, {
    encoding: "utf8",
    env: { ...process.env, CI: "true" }, // no interactive prompt in any step
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (r.error) throw new Stop(`could not run wrangler (${WRANGLER}): ${r.error.message}. Run \`npm install\` first.`);
  const out = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  if (!quiet && r.status !== 0) process.stdout.write(indent(out));
  return { ok: r.status === 0, out };
}
const indent = (text) =>
  text
    .trimEnd()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n")
    .concat("\n");

function authenticated() {
  step("Cloudflare account");
  // `whoami --json` fails when nobody is logged in (plain `whoami` only says so).
  const who = wrangler(["whoami", "--json"], { quiet: true });
  let email;
  try {
    const me = JSON.parse(who.out.slice(who.out.indexOf("{")));
    if (!who.ok || me.loggedIn === false) throw new Error("not logged in");
    email = me.email;
  } catch {
    throw new Stop(
      "not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN, and CLOUDFLARE_ACCOUNT_ID when the token reaches several accounts), then `npm run deploy` again.",
    );
  }
  console.log(`  logged in${email ? ` as ${email}` : ""}`);
}

/** The secrets the Worker lacks, with their values (from the environment, or new). */
function missingSecrets() {
  step("Secrets");
  const list = wrangler(["secret", "list", "--format", "json", "--name", WORKER], { quiet: true });
  let present;
  if (list.ok) {
    try {
      present = new Set(JSON.parse(list.out.slice(list.out.indexOf("["))).map((s) => s.name));
    } catch {
      throw new Stop(
        `cannot tell which secrets the Worker has (\`wrangler secret list\` answered):\n${indent(list.out)}`,
      );
    }
  } else if (/not found|does not exist|\[code: 10007\]/i.test(list.out)) {
    present = new Set(); // a Worker not deployed yet has none
  } else {
    throw new Stop(
      `cannot tell which secrets the Worker has, so none is set (a new WEBHOOK_SECRET_KEY over the one it has would make every stored webhook secret unreadable). \`wrangler secret list\` answered:\n${indent(list.out)}`,
    );
  }
  const missing = {};
  const generated = [];
  for (const name of REQUIRED) {
    if (present.has(name)) {
      console.log(`  ${name}: set already, left as it is`);
    } else if (process.env[name]) {
      missing[name] = process.env[name];
      console.log(`  ${name}: missing, taken from the environment`);
    } else {
      if (name === "ADMIN_TOKEN" && UNATTENDED) {
        throw new Stop(
          "the Worker has no ADMIN_TOKEN, and without a terminal a generated one could only be printed into a log: set ADMIN_TOKEN in the environment (e.g. `openssl rand -hex 32`) and run again. Nothing was created.",
        );
      }
      const make = GENERATE[name];
      if (!make) throw new Stop(`${name} is required and missing: set it in the environment and run again.`);
      missing[name] = DRY ? "" : make();
      generated.push(name);
      console.log(`  ${name}: missing, ${DRY ? "would be generated" : "generated"}`);
    }
  }
  return { missing, generated };
}

function database() {
  step(`D1 database "${DATABASE}"`);
  const info = wrangler(["d1", "info", DATABASE, "--json"], { quiet: true });
  if (info.ok) {
    console.log("  found");
  } else {
    const location = process.env.KEYHOOK_D1_LOCATION;
    const created = wrangler(["d1", "create", DATABASE, ...(location ? ["--location", location] : [])], {
      mutates: true,
    });
    if (!created.ok) throw new Stop(`could not create the D1 database "${DATABASE}".`);
    if (!location) console.log("  (no KEYHOOK_D1_LOCATION: D1 places the primary near this machine)");
  }
  step("Migrations, before the code that needs them");
  const migrated = wrangler(["d1", "migrations", "apply", "DB", "--remote"], { mutates: true });
  if (!migrated.ok) throw new Stop("the migrations did not apply: the Worker was not deployed.");
}

function build() {
  step("The admin page (npm run build:ui)");
  if (DRY) return console.log("  would run: node scripts/build-ui.mjs");
  const r = spawnSync(process.execPath, ["scripts/build-ui.mjs"], { stdio: "inherit" });
  if (r.status !== 0) throw new Stop("the admin page did not build.");
}

function deploy(missing) {
  step("The Worker (its KV namespace, R2 bucket and queues are created by wrangler on the first deploy)");
  const dir = mkdtempSync(join(tmpdir(), "keyhook-deploy-"));
  try {
    const args = ["deploy"];
    if (DRY && Object.keys(missing).length > 0) {
      args.push("--secrets-file", `<a temporary file: ${Object.keys(missing).join(", ")}>`);
    } else if (Object.keys(missing).length > 0) {
      const file = join(dir, "secrets.json");
      writeFileSync(file, JSON.stringify(missing), { mode: 0o600 });
      args.push("--secrets-file", file);
    }
    const r = wrangler(args, { mutates: true });
    if (!r.ok) throw new Stop("wrangler deploy failed (above).");
    if (!DRY) process.stdout.write(indent(r.out));
    return /https:\/\/[^\s]+\.workers\.dev/.exec(r.out)?.[0];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function lifecycle() {
  step(`The history's retention in R2 (${RETENTION_DAYS} days, WEBHOOK_RETENTION_DAYS)`);
  const dir = mkdtempSync(join(tmpdir(), "keyhook-lifecycle-"));
  try {
    const file = join(dir, "lifecycle.json");
    const rule = {
      id: "history-retention",
      enabled: true,
      conditions: { prefix: "history/" },
      deleteObjectsTransition: { condition: { type: "Age", maxAge: RETENTION_DAYS * 86_400 } },
    };
    writeFileSync(file, JSON.stringify({ rules: [rule] }));
    // `set` replaces the bucket's rules: a second run leaves one rule, not two.
    const r = wrangler(["r2", "bucket", "lifecycle", "set", BUCKET, "--file", file, "--force"], { mutates: true });
    if (!r.ok) console.log("  (not set: the cron deletes the archive past its retention all the same)");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function done(url, missing, generated) {
  const base = url ?? "https://<your Worker's URL>";
  console.log(`\n${DRY ? "Dry run: nothing was changed." : `Keyhook is deployed: ${base}`}`);
  if (DRY) return;
  if (generated.includes("ADMIN_TOKEN")) {
    console.log(
      `  Operator token (ADMIN_TOKEN), shown this once — keep it in your password manager:\n    ${missing.ADMIN_TOKEN}`,
    );
  } else if (missing.ADMIN_TOKEN) {
    console.log("  Operator token: the ADMIN_TOKEN you gave in the environment.");
  } else {
    console.log(
      "  Operator token: the ADMIN_TOKEN the Worker already had (wrangler cannot show it; `wrangler secret put ADMIN_TOKEN` replaces it).",
    );
  }
  console.log(`  Next: npx keyhook doctor --url ${base} --key <ADMIN_TOKEN>`);
}

try {
  if (DRY) console.log("Dry run: read-only checks run, every change is only printed.");
  authenticated();
  const { missing, generated } = missingSecrets();
  build();
  database();
  const url = deploy(missing);
  lifecycle();
  done(url, missing, generated);
} catch (e) {
  if (!(e instanceof Stop)) throw e;
  console.error(`\nDeploy stopped: ${e.message}`);
  process.exit(1);
}

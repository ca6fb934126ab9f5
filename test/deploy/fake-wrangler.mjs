#!/usr/bin/env node
// A stand-in for `wrangler` in test/deploy/deploy.test.mjs: it records every call (its arguments,
// and the names in a --secrets-file) as a JSON line in $FAKE_WRANGLER_LOG, and answers as the
// account in $FAKE_WRANGLER_STATE (a JSON file it also updates) would.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";

const args = process.argv.slice(2);
const stateFile = process.env.FAKE_WRANGLER_STATE;
const state = JSON.parse(readFileSync(stateFile, "utf8"));
const save = () => writeFileSync(stateFile, JSON.stringify(state));
const call = { args };
const at = args.indexOf("--secrets-file");
if (at >= 0) call.secrets = Object.keys(JSON.parse(readFileSync(args[at + 1], "utf8"))).sort();
const fileAt = args.indexOf("--file");
if (fileAt >= 0) call.file = JSON.parse(readFileSync(args[fileAt + 1], "utf8"));
appendFileSync(process.env.FAKE_WRANGLER_LOG, `${JSON.stringify(call)}\n`);

const fail = (text, code = 1) => {
  process.stderr.write(`✘ [ERROR] ${text}\n`);
  process.exit(code);
};
const cmd = args
  .filter((a) => !a.startsWith("-"))
  .slice(0, 3)
  .join(" ");

if (!state.loggedIn) {
  if (cmd.startsWith("whoami")) {
    process.stdout.write(JSON.stringify({ loggedIn: false }));
    process.exit(1);
  }
  fail("Authentication error [code: 10000]");
}
if (state.failSecretList && cmd.startsWith("secret list")) fail(state.failSecretList);

if (cmd.startsWith("whoami")) {
  process.stdout.write(JSON.stringify({ loggedIn: true, email: "ops@example.com", accounts: [] }));
} else if (cmd.startsWith("secret list")) {
  if (!state.worker) fail(`Worker "keyhook" not found.\n\nIf this is a new Worker, run \`wrangler deploy\` first.`);
  process.stdout.write(JSON.stringify(state.secrets.map((name) => ({ name, type: "secret_text" }))));
} else if (cmd.startsWith("d1 info")) {
  if (!state.database) fail("Couldn't find DB with name 'keyhook'");
  process.stdout.write(JSON.stringify({ name: "keyhook", uuid: "0f1e" }));
} else if (cmd.startsWith("d1 create")) {
  state.database = true;
  save();
  console.log("✅ Successfully created DB 'keyhook'");
} else if (cmd.startsWith("d1 migrations apply")) {
  if (!state.database) fail("Couldn't find a D1 DB with the name or binding 'DB'");
  state.migrated = true;
  save();
  console.log("✅ Migrations applied");
} else if (cmd.startsWith("deploy")) {
  if (!state.migrated) fail("deployed before the migrations");
  state.worker = true;
  state.secrets = [...new Set([...state.secrets, ...(call.secrets ?? [])])];
  save();
  console.log(
    "Uploaded keyhook\nDeployed keyhook triggers\n  https://keyhook.example.workers.dev\n  schedule: * * * * *",
  );
} else if (cmd.startsWith("r2 bucket lifecycle")) {
  if (!existsSync(args[args.indexOf("--file") + 1])) fail("no file");
  console.log("✨ Set lifecycle configuration for bucket 'keyhook-history'.");
} else {
  fail(`the stand-in does not know \`${args.join(" ")}\``);
}

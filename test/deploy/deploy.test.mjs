// `npm run deploy` (scripts/deploy.mjs) against a stand-in `wrangler` (fake-wrangler.mjs): the
// order of its steps, and what it refuses to do — on a fresh account, a second run, CI without a
// terminal, an authentication error, a Worker that has a WEBHOOK_SECRET_KEY already, a dry run.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const FAKE = fileURLToPath(new URL("./fake-wrangler.mjs", import.meta.url));
const dirs = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Runs the deploy script against an account in `state` (the stand-in's). `terminal` runs it under
 * `script` (a pseudo-terminal), as a person would; else it runs as CI does, without one. Answers
 * its exit status, its output, the wrangler calls in order, and the account after.
 */
function deploy(state, { env = {}, args = [], terminal = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "keyhook-deploy-test-"));
  dirs.push(dir);
  const stateFile = join(dir, "state.json");
  const log = join(dir, "calls.jsonl");
  writeFileSync(stateFile, JSON.stringify({ loggedIn: true, worker: false, database: false, secrets: [], ...state }));
  writeFileSync(log, "");
  const environment = {
    ...process.env,
    ADMIN_TOKEN: "",
    JWT_SECRET: "",
    WEBHOOK_SECRET_KEY: "",
    CI: "",
    WORKERS_CI: "",
    KEYHOOK_D1_LOCATION: "",
    ...env,
    KEYHOOK_WRANGLER: FAKE,
    FAKE_WRANGLER_STATE: stateFile,
    FAKE_WRANGLER_LOG: log,
  };
  const command = [process.execPath, "scripts/deploy.mjs", ...args];
  const run = terminal
    ? spawnSync("script", ["-qec", command.map((a) => `'${a}'`).join(" "), "/dev/null"], {
        encoding: "utf8",
        env: environment,
      })
    : spawnSync(command[0], command.slice(1), { encoding: "utf8", env: environment });
  const calls = readFileSync(log, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  return {
    status: run.status,
    out: `${run.stdout}${run.stderr}`,
    calls,
    /** The calls' commands, e.g. "d1 create keyhook". */
    steps: calls.map((c) => {
      const flag = c.args.findIndex((a) => a.startsWith("-"));
      return (flag < 0 ? c.args : c.args.slice(0, flag)).slice(0, 3).join(" ");
    }),
    state: JSON.parse(readFileSync(stateFile, "utf8")),
  };
}

const FULL_ORDER = [
  "whoami",
  "secret list",
  "d1 info keyhook",
  "d1 create keyhook",
  "d1 migrations apply",
  "deploy",
  "r2 bucket lifecycle",
];
const SECRETS = ["ADMIN_TOKEN", "JWT_SECRET", "WEBHOOK_SECRET_KEY"];

describe("npm run deploy", () => {
  it("a fresh account, at a terminal: creates D1 where asked, migrates before deploying, generates every secret and shows the token once", () => {
    const r = deploy({}, { terminal: true, env: { KEYHOOK_D1_LOCATION: "weur" } });
    assert.equal(r.status, 0, r.out);
    assert.deepEqual(r.steps, FULL_ORDER);
    const create = r.calls.find((c) => c.args[1] === "create");
    assert.deepEqual(create.args.slice(-2), ["--location", "weur"]);
    assert.ok(r.calls.find((c) => c.args[2] === "apply").args.includes("--remote"));
    assert.deepEqual(r.calls.find((c) => c.args[0] === "deploy").secrets, SECRETS);
    assert.deepEqual(r.state.secrets.sort(), SECRETS);
    // The retention rule: the history's prefix, WEBHOOK_RETENTION_DAYS (30) in seconds, replacing.
    const lifecycle = r.calls.find((c) => c.args[0] === "r2");
    assert.ok(lifecycle.args.includes("set") && lifecycle.args.includes("--force"));
    assert.equal(lifecycle.file.rules.length, 1);
    assert.equal(lifecycle.file.rules[0].conditions.prefix, "history/");
    assert.equal(lifecycle.file.rules[0].deleteObjectsTransition.condition.maxAge, 30 * 86_400);
    // The end: the URL, the token (once), the next command.
    assert.match(r.out, /Keyhook is deployed: https:\/\/keyhook\.example\.workers\.dev/);
    assert.match(r.out, /Operator token \(ADMIN_TOKEN\), shown this once[^\n]*\n\s+[0-9a-f]{64}/);
    assert.match(r.out, /npx keyhook doctor --url https:\/\/keyhook\.example\.workers\.dev/);
  });

  it("a second run: finds everything, creates nothing, sends no secret, sets the same one rule", () => {
    const r = deploy({ worker: true, database: true, secrets: SECRETS });
    assert.equal(r.status, 0, r.out);
    assert.deepEqual(
      r.steps,
      FULL_ORDER.filter((s) => s !== "d1 create keyhook"),
    );
    assert.equal(r.calls.find((c) => c.args[0] === "deploy").secrets, undefined);
    assert.deepEqual(r.state.secrets, SECRETS);
    assert.match(r.out, /Operator token: the ADMIN_TOKEN the Worker already had/);
    assert.doesNotMatch(r.out, /[0-9a-f]{64}/);
  });

  it("CI without a terminal and no ADMIN_TOKEN: stops before creating anything", () => {
    const r = deploy({}, { env: { CI: "true" } });
    assert.equal(r.status, 1);
    assert.deepEqual(r.steps, ["whoami", "secret list"]);
    assert.match(r.out, /without a terminal a generated one could only be printed into a log: set ADMIN_TOKEN/);
    assert.equal(r.state.database, false);
  });

  it("CI with ADMIN_TOKEN given: deploys, generates the other two, prints no secret", () => {
    const token = "f".repeat(64);
    const r = deploy({}, { env: { CI: "true", ADMIN_TOKEN: token } });
    assert.equal(r.status, 0, r.out);
    assert.deepEqual(r.calls.find((c) => c.args[0] === "deploy").secrets, SECRETS);
    assert.doesNotMatch(r.out, new RegExp(token));
    assert.doesNotMatch(r.out, /[0-9a-f]{64}|[A-Za-z0-9+/]{43}=/);
    assert.match(r.out, /the ADMIN_TOKEN you gave in the environment/);
  });

  it("not logged in: says how to log in, and runs nothing else", () => {
    const r = deploy({ loggedIn: false });
    assert.equal(r.status, 1);
    assert.deepEqual(r.steps, ["whoami"]);
    assert.match(r.out, /not logged in to Cloudflare: run `npx wrangler login` \(or set CLOUDFLARE_API_TOKEN/);
  });

  it("secret list fails for another reason (an authentication error): stops, sets no secret", () => {
    const r = deploy({ failSecretList: "Authentication error [code: 10000]" }, { terminal: true });
    assert.equal(r.status, 1);
    assert.deepEqual(r.steps, ["whoami", "secret list"]);
    assert.match(r.out, /cannot tell which secrets the Worker has, so none is set/);
    assert.match(r.out, /Authentication error \[code: 10000\]/);
  });

  it("a Worker with a WEBHOOK_SECRET_KEY already: never sends another, even one in the environment", () => {
    const r = deploy(
      { worker: true, database: true, migrated: true, secrets: ["WEBHOOK_SECRET_KEY"] },
      { env: { ADMIN_TOKEN: "a".repeat(64), WEBHOOK_SECRET_KEY: "bmV3LWtleS10aGF0LXdvdWxkLWJyZWFrLWV2ZXJ5dGhpbmc=" } },
    );
    assert.equal(r.status, 0, r.out);
    assert.deepEqual(r.calls.find((c) => c.args[0] === "deploy").secrets, ["ADMIN_TOKEN", "JWT_SECRET"]);
    assert.match(r.out, /WEBHOOK_SECRET_KEY: set already, left as it is/);
  });

  it("--dry-run: runs only the read-only checks, prints every change in order, touches nothing", () => {
    const r = deploy({}, { args: ["--dry-run"], terminal: true });
    assert.equal(r.status, 0, r.out);
    assert.deepEqual(r.steps, ["whoami", "secret list", "d1 info keyhook"]);
    assert.deepEqual(r.state, { loggedIn: true, worker: false, database: false, secrets: [] });
    const planned = [...r.out.matchAll(/would run: (.*)/g)].map((m) => m[1]);
    const expected = [
      "node scripts/build-ui.mjs",
      "wrangler d1 create keyhook",
      "wrangler d1 migrations apply DB --remote",
      "wrangler deploy --secrets-file <a temporary file: ADMIN_TOKEN, JWT_SECRET, WEBHOOK_SECRET_KEY>",
      "wrangler r2 bucket lifecycle set keyhook-history",
    ];
    assert.equal(planned.length, expected.length, r.out);
    for (const [i, e] of expected.entries()) assert.ok(planned[i].startsWith(e), `${planned[i]} ≠ ${e}`);
    assert.match(r.out, /Dry run: nothing was changed/);
  });
});

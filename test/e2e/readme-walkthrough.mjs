#!/usr/bin/env node
// Runs the walk-throughs of README.md, docs/webhooks.md and docs/keys.md word for word against
// `npm run dev`, as a new user would.
// Exit 0 when every expectation holds; prints one line per check.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

const PORT = "8787";
const base = `http://localhost:${PORT}`;
/** The `sh` blocks of a page, in order. */
const blocksOf = (page) => [...readFileSync(page, "utf8").matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
/** The block of `page` that contains `marker`: the walk-throughs are found by what they do, not by position. */
const block = (page, marker) => {
  const found = blocksOf(page).find((b) => b.includes(marker));
  if (!found) throw new Error(`${page}: no sh block with ${marker}`);
  return found;
};
// The keys walk-through (README), webhooks (docs/webhooks.md), verify and the protected-API example (docs/keys.md).
const script = [
  "set -euo pipefail",
  block("README.md", "ADMIN=$(grep"),
  block("docs/webhooks.md", "/v1/webhooks"),
  block("docs/keys.md", "/v1/keys/verify"),
  block("docs/keys.md", "npm run example"),
].join("\n");

const dev = spawn("npm", ["run", "dev"], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
let log = "";
dev.stdout.on("data", (d) => (log += d));
dev.stderr.on("data", (d) => (log += d));
const stop = () => {
  try {
    process.kill(-dev.pid, "SIGTERM");
  } catch {}
};

async function waitForHealth(ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await fetch(`${base}/health`)).ok) return true;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

let failed = 0;
const check = (ok, what) => {
  console.log(`${ok ? "ok" : "FAILED"}: ${what}`);
  if (!ok) failed++;
};

try {
  const up = await waitForHealth(90_000);
  check(up, "npm run dev serves /health");
  if (!up) console.log(log.slice(-4000));
  else {
    const run = spawnSync("bash", ["-c", script], { encoding: "utf8", timeout: 60_000 });
    const out = run.stdout + run.stderr;
    check(run.status === 0, "the walk-through runs to the end");
    check(/"prefix": "kh_live_/.test(out), "the key is listed with its prefix");
    check(/"lastUsedAt": "20/.test(out), "lastUsedAt is set after the key is used");
    check(/HTTP\/1\.1 401[\s\S]*"invalid_credentials"/.test(out), "the revoked key gets 401 invalid_credentials");
    check(/"code": "VALID"/.test(out), "verify answers VALID");
    check(/"INSUFFICIENT_SCOPE"/.test(out), "verify answers INSUFFICIENT_SCOPE for a missing scope");
    check(
      /^evt_\S+ v1,\S+ \{"id":"evt_[^"]+","event":"issue\.resolved".*"severity":"critical"/m.test(out),
      "the receiver got the critical issue, signed",
    );
    check(
      !/"severity":"minor"\}\}$/m.test(
        out
          .split("\n")
          .filter((l) => l.startsWith("evt_"))
          .join("\n"),
      ),
      "the minor issue was filtered out",
    );
    check(/"deliveries":\[\]/.test(out), "publishing the minor issue made no delivery");
    check(/\{"eventType":"issue\.resolved","responseStatus":200/.test(out), "the attempt is in the delivery history");
    check(
      /^evt_\S+ v1,\S+ \{"id":"evt_[^"]+","event":"webhook\.test"/m.test(out),
      "the test event reached the receiver",
    );
    check(
      /\{"invoice":\{"id":"inv_\w+","amount":42,"paid":false\},"event":"evt_\w+"\}/.test(out),
      "the example API accepts a Keyhook key and publishes through the binding",
    );
    check(/"key":"Invoicer","invoices":\[\{/.test(out), "the example API knows which key called");
    check(/^401$/m.test(out), "the example API refuses a call without a key");
    if (failed) console.log(out.slice(-4000));
  }
} finally {
  stop();
  spawnSync("pkill", ["-f", "examples/protected-api"]); // started by the README's example block
}
process.exit(failed ? 1 : 0);

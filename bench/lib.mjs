// Shared by the bench scripts: start Keyhook and the floor Worker under `wrangler dev`, call the API.
import { spawn } from "node:child_process";
import { cpSync, readdirSync, readFileSync, rmSync } from "node:fs";

export const KEYHOOK = "http://localhost:8795";
export const FLOOR = "http://localhost:8796";
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const procs = [];

/** Starts a process in its own group (so its children can be measured and stopped together). */
export function start(cmd, args, env = {}) {
  const p = spawn(cmd, args, { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let log = "";
  p.stdout.on("data", (d) => (log += d));
  p.stderr.on("data", (d) => (log += d));
  procs.push(p);
  return { pid: p.pid, log: () => log };
}

export async function up(url, started) {
  for (let i = 0; i < 240; i++) {
    if (
      await fetch(url).then(
        () => true,
        () => false,
      )
    )
      return;
    await sleep(500);
  }
  throw new Error(`${url} did not start:\n${started.log().slice(-2000)}`);
}

export function stopAll() {
  for (const p of procs)
    try {
      process.kill(-p.pid, "SIGTERM");
    } catch {}
}
process.on("exit", stopAll);

/**
 * A copy of Keyhook's local state (D1, KV) for another `wrangler dev` process. Two workerd
 * processes on one SQLite file answer each other's writes with SQLITE_BUSY ("database is locked"),
 * which a deployment never sees (one D1), so every extra process gets its own copy.
 */
export function stateCopy(name) {
  const dir = `.wrangler/bench-${name}`;
  rmSync(dir, { recursive: true, force: true });
  cpSync(STATE, dir, { recursive: true });
  return dir;
}

/** The bench's own local state, empty at the start of every run (`npm run dev`'s is left alone). */
export const STATE = ".wrangler/bench-state";
export const freshState = () => rmSync(STATE, { recursive: true, force: true });

/** Keyhook (`npm run dev`) on 8795 on the bench's state, with extra wrangler args. */
export async function startKeyhook(args = [], port = "8795", persistTo = STATE) {
  const keyhook = start("npm", ["run", "dev", "--", ...args, "--persist-to", persistTo], { PORT: port });
  await up(`http://localhost:${port}/health`, keyhook);
  return keyhook;
}

/** The floor Worker on 8796, on a fresh copy of Keyhook's state (so it sees the same keys). */
export async function startFloor(previous, config = "bench/floor/wrangler.toml") {
  if (previous) stop(previous);
  const dir = stateCopy("floor");
  const floor = start("node_modules/.bin/wrangler", ["dev", "-c", config, "--port", "8796", "--persist-to", dir]);
  await up(FLOOR, floor);
  return floor;
}

export const FLOOR_ASSETS = "http://localhost:8793";

/**
 * The floor with Keyhook's deployment shape, on 8793: behind the same static-assets router (under
 * `wrangler dev` a hop through another worker per request, which production does at the edge).
 */
export async function startFloorBehindAssets() {
  const dir = stateCopy("floor-assets");
  const floor = start("node_modules/.bin/wrangler", [
    "dev",
    "-c",
    "bench/floor/wrangler.assets.toml",
    "--port",
    "8793",
    "--persist-to",
    dir,
  ]);
  await up(FLOOR_ASSETS, floor);
  return floor;
}

export const FLOOR_PIPELINE = "http://localhost:8799";

/**
 * The pipeline floor (bench/floor-pipeline) on 8799, on a fresh copy of Keyhook's state: the same
 * keys, webhooks and signing-secret key, so it delivers what Keyhook would, to the same receivers.
 */
export async function startFloorPipeline(extraArgs = []) {
  const dir = stateCopy("floor-pipeline");
  const floor = start("node_modules/.bin/wrangler", [
    "dev",
    "-c",
    "bench/floor-pipeline/wrangler.toml",
    "--port",
    "8799",
    "--persist-to",
    dir,
    "--var",
    `WEBHOOK_SECRET_KEY:${devVar("WEBHOOK_SECRET_KEY")}`,
    ...extraArgs,
  ]);
  await up(FLOOR_PIPELINE, floor);
  return floor;
}

const devVar = (name) =>
  readFileSync(".dev.vars", "utf8")
    .match(new RegExp(`^${name}=(.*)$`, "m"))[1]
    .trim();
const admin = () => devVar("ADMIN_TOKEN");
export const adminHeaders = () => ({ authorization: `Bearer ${admin()}`, "content-type": "application/json" });

export async function api(method, path, body, headers = {}) {
  const res = await fetch(KEYHOOK + path, {
    method,
    headers: { ...adminHeaders(), ...headers },
    body: body && JSON.stringify(body),
  });
  return res.json();
}

/** An enterprise account with a limit high enough for the bench, and one key in it. */
export async function benchAccount() {
  const { account } = await api("POST", "/v1/accounts", { name: "Bench", plan: "enterprise" });
  await api("PATCH", `/v1/accounts/${account.id}`, { limits: { rateLimitPerHour: 1_000_000 } });
  const { key } = await api("POST", "/v1/api-keys", { name: "bench" }, { "x-account-id": account.id });
  return { account, key };
}

/** CPU milliseconds used so far by every process in a process group, by command name (Linux /proc). */
export function groupCpu(pgid) {
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  const byName = {};
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== pgid) continue; // field 5: pgrp
    const ms = (Number(fields[11]) + Number(fields[12])) * tick; // utime + stime
    byName[name] = (byName[name] ?? 0) + ms;
  }
  return byName;
}

/**
 * One CDP session on wrangler's inspector proxy (`--inspector-port`): `send` answers the whole
 * message, or null if none came within `timeoutMs`.
 */
export async function inspector(port) {
  const { default: WebSocket } = await import("ws");
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let id = 0;
  const waiting = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(String(data));
    if (msg.id && waiting.has(msg.id)) waiting.get(msg.id)(msg);
  });
  const send = (method, params = {}, timeoutMs = 0) =>
    new Promise((resolve) => {
      const n = ++id;
      const timer = timeoutMs > 0 ? setTimeout(() => resolve(null), timeoutMs) : undefined;
      waiting.set(n, (msg) => {
        clearTimeout(timer);
        waiting.delete(n);
        resolve(msg);
      });
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  return { send, close: () => ws.close() };
}

/** Stops one started process group. */
export function stop(started) {
  try {
    process.kill(-started.pid, "SIGTERM");
  } catch {}
}

// Starts Keyhook (`npm run dev` on its own port) and a loopback webhook receiver for the browser tests.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";

export const PORT = Number(process.env.KEYHOOK_TEST_PORT ?? 8790);
export const BASE = `http://localhost:${PORT}`;

/** `npm run dev` on PORT; `extraArgs` go to `wrangler dev` (e.g. `--var NAME:value`). */
export async function startKeyhook(extraArgs = []) {
  const args = ["run", "dev", ...(extraArgs.length ? ["--", ...extraArgs] : [])];
  const dev = spawn("npm", args, {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PORT: String(PORT) },
  });
  let log = "";
  dev.stdout.on("data", (d) => (log += d));
  dev.stderr.on("data", (d) => (log += d));
  const until = Date.now() + 120_000;
  while (Date.now() < until) {
    try {
      if ((await fetch(`${BASE}/health`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  if (
    !(await fetch(`${BASE}/health`).then(
      (r) => r.ok,
      () => false,
    ))
  )
    throw new Error(`Keyhook did not start:\n${log.slice(-3000)}`);
  return {
    stop: (signal = "SIGTERM") => {
      try {
        process.kill(-dev.pid, signal);
      } catch {}
    },
    exited: new Promise((resolve) => dev.on("exit", resolve)),
  };
}

export function devVar(name) {
  const line = readFileSync(".dev.vars", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}=`));
  return line.slice(name.length + 1).trim();
}

const b64url = (buf) => Buffer.from(buf).toString("base64url");

/** A user token as the host application's login would issue it. */
export function userJwt(claims) {
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = b64url(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims }));
  const sig = createHmac("sha256", devVar("JWT_SECRET")).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${sig}`;
}

export async function apiCall(method, path, { token, accountId, apiKey, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (accountId) headers["x-account-id"] = accountId;
  if (apiKey) headers["x-api-key"] = apiKey;
  if (body) headers["content-type"] = "application/json";
  const res = await fetch(BASE + path, { method, headers, body: body && JSON.stringify(body) });
  return { status: res.status, body: await res.json().catch(() => null) };
}

export const SCRIPT_BODY = `<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">`;

export function startReceiver() {
  const received = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ path: req.url, headers: req.headers, body });
      // A receiver that answers HTML meant to run in whoever shows it (the delivery history).
      if (req.url?.endsWith("/script")) {
        res.setHeader("content-type", "text/html");
        return res.end(SCRIPT_BODY);
      }
      res.end("thanks");
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ url: `http://127.0.0.1:${server.address().port}/hooks`, received, close: () => server.close() }),
    ),
  );
}

/**
 * The host application's login page, on loopback: `/login?return_to=…` sends the browser back to
 * Keyhook with a user JWT for `login.user` (as a real login would after a password), and
 * `/callback` is an OAuth client's redirect URI that keeps what it was sent.
 */
export function startLogin() {
  const login = { user: null, callbacks: [] };
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    if (url.pathname === "/login") {
      const back = new URL(url.searchParams.get("return_to"));
      back.searchParams.set("login_token", userJwt(login.user));
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === "/callback") login.callbacks.push(url);
    res.setHeader("content-type", "text/html");
    res.end("<!doctype html><title>Example app</title><h1>Connected</h1>");
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      login.origin = `http://127.0.0.1:${server.address().port}`;
      login.close = () => server.close();
      resolve(login);
    }),
  );
}

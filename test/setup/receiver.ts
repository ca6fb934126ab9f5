// A real HTTP receiver on loopback, started by vitest's globalSetup (in Node), that misbehaves on cue.
// Paths: /ok/<name>  /status/<code>/<name>  /fail/<n>/<name> (500 n times, then 200)
//        /hang/<ms>/<name>  /retry-after/<s>/<name> (503 + Retry-After, then 200)  /redirect/<name>
//        /drop/<name> (closes the socket)   Control: GET /__received/<name>
//        /jwks/<set> (a JWKS, published by POST /__jwks/<set>)
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Received } from "./received";

export function startReceiver(): Promise<{ server: Server; port: number }> {
  const received = new Map<string, Received[]>();
  const seen = new Map<string, number>();
  const jwks = new Map<string, string>();
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let data = "";
      req.on("data", (c) => (data += c));
      req.on("end", () => resolve(data));
    });
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://receiver");
    const parts = url.pathname.split("/").filter(Boolean);
    if (parts[0] === "__received") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(received.get(parts[1] ?? "") ?? []));
      return;
    }
    // An identity provider's key set: a test publishes it (POST /__jwks/<set>), the Worker fetches it.
    if (parts[0] === "__jwks") {
      jwks.set(parts[1] ?? "", await readBody(req));
      return res.end("ok");
    }
    if (parts[0] === "jwks") {
      res.setHeader("content-type", "application/json");
      return res.end(jwks.get(parts[1] ?? "") ?? '{"keys":[]}');
    }
    const body = await readBody(req);
    const name = parts.at(-1) ?? "";
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    const list = received.get(name) ?? [];
    list.push({ path: url.pathname, headers, body, at: Date.now() });
    received.set(name, list);
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    const [kind, arg] = parts;
    switch (kind) {
      case "status":
        res.statusCode = Number(arg);
        return res.end(`status ${arg}`);
      case "fail":
        res.statusCode = count <= Number(arg) ? 500 : 200;
        return res.end(res.statusCode === 500 ? "boom" : "ok");
      case "hang":
        return setTimeout(() => res.end("late"), Number(arg));
      case "retry-after":
        if (count === 1) {
          res.statusCode = 503;
          res.setHeader("retry-after", String(arg));
          return res.end("busy");
        }
        return res.end("ok");
      case "redirect":
        res.statusCode = 301;
        res.setHeader("location", "/ok/elsewhere");
        return res.end();
      case "drop":
        return req.socket.destroy();
      default:
        res.setHeader("content-type", "text/plain");
        return res.end("ok ".repeat(3000)); // longer than the 4 KiB cap
    }
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}

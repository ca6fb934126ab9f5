import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, accountWithKey, BASE, call, createAccount } from "./helpers/api";

describe("the one error shape", () => {
  it("every answer, success or error, says nosniff and no-store", async () => {
    const { key } = await accountWithKey();
    const answers = [
      await call("GET", "/health"),
      await call("GET", "/v1/whoami", { apiKey: key }),
      await call("GET", "/v1/whoami"),
      await call("GET", "/v1/nothing-here"),
      await call("DELETE", "/v1/whoami", { apiKey: key }),
      await call("POST", "/v1/accounts", { token: ADMIN, body: "{not json" }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 401, 404, 405, 400]);
    for (const a of answers) {
      expect(a.headers.get("x-content-type-options")).toBe("nosniff");
      expect(a.headers.get("cache-control")).toBe("no-store");
    }
  });

  it("unknown routes: 404 not_found in JSON, before any auth", async () => {
    const res = await call("GET", "/v1/nothing-here");
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: "not_found" });
    expect(res.body.error.requestId).toBeTypeOf("string");
    expect(res.headers.get("x-request-id")).toBe(res.body.error.requestId);
  });

  it("a known path with another method: 405 with Allow", async () => {
    const res = await call("PUT", "/v1/api-keys/key_123", { token: ADMIN });
    expect(res.status).toBe(405);
    expect(res.body.error.code).toBe("method_not_allowed");
    expect(res.headers.get("allow")).toContain("PATCH");
  });

  it("malformed JSON: 400 invalid_json", async () => {
    const res = await call("POST", "/v1/accounts", { token: ADMIN, body: "{not json" });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_json");
  });

  it("a body that is not JSON: 415", async () => {
    const res = await call("POST", "/v1/accounts", {
      token: ADMIN,
      body: "name=x",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe("unsupported_media_type");
  });

  it("a body over 64 KiB: 413 payload_too_large", async () => {
    const res = await call("POST", "/v1/accounts", { token: ADMIN, body: { name: "x", pad: "y".repeat(70_000) } });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
  });

  it("a chunked body over 64 KiB (no Content-Length): 413", async () => {
    const chunk = new TextEncoder().encode("y".repeat(16_384));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 6) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await exports.default.fetch(
      new Request(`${BASE}/v1/accounts`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        body: stream,
      }),
    );
    expect(res.status).toBe(413);
  });

  it("validation: 400 validation_failed naming every field path", async () => {
    const account = await createAccount();
    const res = await call("POST", "/v1/api-keys", {
      token: ADMIN,
      accountId: account.id,
      body: { name: "", scopes: "keys:read", metadata: 3 },
    });
    expect(res.status).toBe(400);
    const paths = res.body.error.details.map((d: { path: string }) => d.path).sort();
    expect(paths).toEqual(["metadata", "name", "scopes"]);
  });

  it("JSON that is not an object: 400, not 500", async () => {
    const account = await createAccount();
    for (const body of ["null", "[]", "42", '"str"']) {
      const res = await call("POST", "/v1/api-keys", { token: ADMIN, accountId: account.id, body });
      expect(res.status, body).toBe(400);
    }
  });

  it("no answer ever carries a stack trace or the secret", async () => {
    const { key } = await accountWithKey();
    const res = await call("GET", "/v1/whoami", { apiKey: `${key}x` });
    expect(JSON.stringify(res.body)).not.toContain(key);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
  });
});

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import deployPage from "../docs/deploy.md?raw";
import readme from "../README.md?raw";
import { ConfigError, parseVariables, readSettings, VARIABLES } from "../src/config";
import { settingsTable, withSettingsTable } from "../src/config-docs";
import worker from "../src/index";

const base = { WEBHOOK_SECRET_KEY: "a-secret-of-sixteen-or-more" };
const problemsOf = (vars: Record<string, string>) => {
  try {
    parseVariables({ ...base, ...vars });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe("configuration: one schema, loud", () => {
  it("an unset or empty WEBHOOK_RETRY_DELAYS is the default schedule (was: one retry after 0 s)", () => {
    const schedule = [5, 300, 1800, 7200, 18000, 36000, 36000];
    expect(parseVariables(base).WEBHOOK_RETRY_DELAYS).toEqual(schedule);
    expect(parseVariables({ ...base, WEBHOOK_RETRY_DELAYS: "" }).WEBHOOK_RETRY_DELAYS).toEqual(schedule);
    expect(parseVariables({ ...base, WEBHOOK_RETRY_DELAYS: "1, 2,3" }).WEBHOOK_RETRY_DELAYS).toEqual([1, 2, 3]);
  });

  it("a value that does not parse is an error naming the variable and what is wrong, never a fallback", () => {
    expect(problemsOf({ WEBHOOK_RETRY_DELAYS: "5,,10" })).toEqual([
      expect.stringMatching(/^WEBHOOK_RETRY_DELAYS .*whole number.*"5,,10"/),
    ]);
    expect(problemsOf({ WEBHOOK_RETRY_DELAYS: "5,100000" })[0]).toMatch(/^WEBHOOK_RETRY_DELAYS .*at most 43200/);
    expect(problemsOf({ KEY_PREFIX: "Acme" })[0]).toMatch(/^KEY_PREFIX must be .*lowercase.*"Acme"/);
    expect(problemsOf({ WEBHOOK_TIMEOUT_MS: "15s" })[0]).toMatch(/^WEBHOOK_TIMEOUT_MS must be a whole number/);
    expect(problemsOf({ ALLOW_KEY_IN_QUERY: "yes" })[0]).toMatch(/^ALLOW_KEY_IN_QUERY must be "true" or "false"/);
    expect(problemsOf({ OAUTH_LOGIN_URL: "login.example.com" })[0]).toMatch(/^OAUTH_LOGIN_URL must be an http/);
    expect(problemsOf({ D1_TIMEOUT_MS: "60000" })[0]).toMatch(/^D1_TIMEOUT_MS must be at most 20000/);
    // Every problem at once, each named.
    expect(problemsOf({ KEY_ENV: "prod", AUTH_FAILURE_LIMIT: "0" })).toEqual([
      expect.stringMatching(/^KEY_ENV /),
      expect.stringMatching(/^AUTH_FAILURE_LIMIT must be at least 1/),
    ]);
  });

  it("a missing required secret is named; a secret's value is never echoed", () => {
    expect(problemsOf({ WEBHOOK_SECRET_KEY: "" })).toEqual([expect.stringMatching(/^WEBHOOK_SECRET_KEY must be set/)]);
    const [short] = problemsOf({ JWT_SECRET: "hunter2" });
    expect(short).toMatch(/^JWT_SECRET must be at least 16/);
    expect(short).not.toContain("hunter2");
  });

  it("the test deployment's own settings parse", () => {
    expect(() => readSettings(env)).not.toThrow();
  });

  describe("a Worker started with a bad value", () => {
    afterEach(() => vi.restoreAllMocks());
    it("answers 500 with a request id, and every refused request's id finds the problem in the log", async () => {
      const lines: string[] = [];
      vi.spyOn(console, "error").mockImplementation((line: unknown) => lines.push(String(line)));
      const bad = { ...env, KEY_PREFIX: "Acme", WEBHOOK_RETRY_DELAYS: "5,,10" } as Env;
      for (let i = 0; i < 3; i++) {
        const ctx = createExecutionContext();
        const res = await worker.fetch(new Request("http://keyhook.test/v1/whoami"), bad, ctx);
        await waitOnExecutionContext(ctx);
        expect(res.status).toBe(500);
        const body = (await res.json()) as { error: { code: string; message: string; requestId: string } };
        expect(body.error.code).toBe("internal_error");
        expect(body.error.message).toContain("the operator's log says how");
        const requestId = body.error.requestId;
        expect(requestId).toBeTruthy();
        const logged = lines.find((l) => l.includes("configuration is invalid") && l.includes(String(requestId)));
        expect(logged, `request ${i + 1}`).toBeDefined();
        expect(logged).toContain("KEY_PREFIX");
        expect(logged).toContain("WEBHOOK_RETRY_DELAYS");
      }
    });
  });

  it("every variable has a description, and the docs' settings tables are the schema's (npm run docs:settings)", () => {
    for (const [name, v] of Object.entries(VARIABLES)) expect(v.description.length, name).toBeGreaterThan(10);
    for (const [page, text] of [
      ["README.md", readme],
      ["docs/deploy.md", deployPage],
    ] as const) {
      expect(withSettingsTable(text), `${page}: run npm run docs:settings`).toBe(text);
      expect(text).toContain(settingsTable());
    }
  });
});

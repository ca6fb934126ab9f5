import { describe, expect, it } from "vitest";
import { forgetIsolateMemory, IsolateMap, isolateMemory } from "../src/lib/isolate-memory";
import { call, createAccount, createKey } from "./helpers/api";

describe("isolate memory: declared, bounded, resettable", () => {
  it("lists everything the isolate remembers, each with a name and a bound", async () => {
    const account = await createAccount();
    const { key } = await createKey(account.id, { scopes: ["keys:read"] });
    expect((await call("GET", "/v1/whoami", { apiKey: key })).status).toBe(200);
    const memory = isolateMemory();
    const names = memory.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const m of memory) expect(m.max, m.name).toBeGreaterThan(0);
    // What this isolate's worker module declared, as the helper sees it (the test imports the same modules).
    expect(names).toEqual(
      expect.arrayContaining(["keys lastUsedAt written", "webhook signing keys", "rate counter windows"]),
    );
  });

  it("a full map is emptied before it grows (the default rule), and forgetting empties every one", () => {
    const map = new IsolateMap<string, number>(`test map ${crypto.randomUUID()}`, 3);
    for (const k of ["a", "b", "c"]) map.set(k, 1);
    map.set("a", 2); // an existing key never empties it
    expect(map.size).toBe(3);
    map.set("d", 1);
    expect([...map.keys()]).toEqual(["d"]);
    forgetIsolateMemory();
    expect(map.size).toBe(0);
    expect(isolateMemory().every((m) => m.size === 0)).toBe(true);
  });

  it("a name is declared once", () => {
    const name = `twice ${crypto.randomUUID()}`;
    new IsolateMap(name, 1);
    expect(() => new IsolateMap(name, 1)).toThrow(/declared twice/);
  });
});

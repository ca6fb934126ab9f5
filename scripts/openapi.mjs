#!/usr/bin/env node
// Writes docs/openapi.json from the route definitions (the same document GET /openapi.json serves),
// and src/client/schema.ts (its TypeScript types, for the typed client) with openapi-typescript.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

const out = "node_modules/.cache/keyhook-openapi.mjs";
mkdirSync("node_modules/.cache", { recursive: true });
await build({
  stdin: {
    contents: `import { createApp } from "./src/http/app"; import { openApiDocument } from "./src/http/openapi-doc";
      export const doc = openApiDocument(createApp(), "http://localhost:8787");`,
    resolveDir: ".",
    loader: "ts",
  },
  bundle: true,
  format: "esm",
  platform: "node",
  outfile: out,
  logLevel: "error",
});
const { doc } = await import(`../${out}`);
rmSync(out);
writeFileSync("docs/openapi.json", `${JSON.stringify(doc, null, 2)}\n`);
execFileSync("node_modules/.bin/openapi-typescript", ["docs/openapi.json", "-o", "src/client/schema.ts"], {
  stdio: "inherit",
});
console.log("wrote docs/openapi.json and src/client/schema.ts");

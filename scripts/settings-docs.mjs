#!/usr/bin/env node
// `npm run docs:settings`: writes the settings table (from src/config.ts's schema) into every page
// that has the markers. test/config.test.ts fails when a page's table differs from the schema.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

const PAGES = ["README.md", "docs/deploy.md"];
const out = "node_modules/.cache/keyhook-config-docs.mjs";
mkdirSync("node_modules/.cache", { recursive: true });
await build({
  entryPoints: ["src/config-docs.ts"],
  bundle: true,
  format: "esm",
  platform: "node",
  outfile: out,
  logLevel: "error",
});
const { withSettingsTable } = await import(`../${out}`);
rmSync(out);
for (const page of PAGES) {
  const text = readFileSync(page, "utf8");
  const next = withSettingsTable(text);
  if (next === null) {
    console.error(`${page}: no settings-table markers`);
    process.exitCode = 1;
  } else if (next !== text) {
    writeFileSync(page, next);
    console.log(`${page}: settings table written`);
  }
}

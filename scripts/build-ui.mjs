#!/usr/bin/env node
// Bundles the admin page (src/ui, hono/jsx/dom) into public/admin/app.js for Workers Static Assets,
// and reports its gzipped size (budget: 60 KiB). Copies Scalar's standalone bundle for /docs, so the
// API reference is served by the Worker itself, never from a CDN.
import { copyFileSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const out = "public/admin/app.js";
await build({
  entryPoints: ["src/ui/main.tsx"],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  outfile: out,
  jsx: "automatic",
  jsxImportSource: "hono/jsx/dom",
  legalComments: "none",
});
const gz = gzipSync(readFileSync(out)).length;
console.log(`${out}: ${(gz / 1024).toFixed(1)} KiB gzipped`);
if (gz > 60 * 1024) {
  console.error("The admin page's JavaScript is over its 60 KiB gzipped budget");
  process.exit(1);
}

copyFileSync("node_modules/@scalar/api-reference/dist/browser/standalone.js", "public/docs/scalar.js");

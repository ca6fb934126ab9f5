#!/usr/bin/env node
// Bundles the admin page and the customer portal (src/ui, hono/jsx/dom) into public/admin/app.js and portal.js for Workers Static Assets,
// and reports its gzipped size (budget: 60 KiB). Copies Scalar's standalone bundle for /docs, so the
// API reference is served by the Worker itself, never from a CDN.
import { copyFileSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

// The admin page, and the customer portal (/portal/, served by the Worker) built from the same parts.
for (const [entry, out] of [
  ["src/ui/main.tsx", "public/admin/app.js"],
  ["src/ui/portal-main.tsx", "public/admin/portal.js"],
]) {
  await build({
    entryPoints: [entry],
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
    console.error(`${out} is over its 60 KiB gzipped budget`);
    process.exit(1);
  }
}

copyFileSync("node_modules/@scalar/api-reference/dist/browser/standalone.js", "public/docs/scalar.js");

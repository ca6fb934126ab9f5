// The Worker's budget: dist/index.js (from `wrangler deploy --dry-run --outdir dist`) at most
// 265 KiB gzipped. Fails the build when over; prints the size either way. (250 until the event
// catalog's JSON Schema validator, @cfworker/json-schema, added 6.3 KiB; 260 until the customer
// portal added 4 KiB: the Worker is 262 KiB. Of zod's 460 KB minified in the bundle, 260 KB are its
// locales, which nothing uses: the next saving.)
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET_KIB = 265;
const gz = gzipSync(readFileSync("dist/index.js"), { level: 9 }).length / 1024;
console.log(`dist/index.js: ${gz.toFixed(1)} KiB gzipped (budget ${BUDGET_KIB} KiB)`);
if (gz > BUDGET_KIB) {
  console.error(`The Worker is over its ${BUDGET_KIB} KiB gzipped budget`);
  process.exit(1);
}

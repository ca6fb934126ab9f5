// `npm run lint:house`: the rules of the house that neither a linter nor dependency-cruiser
// knows: JSON columns are parsed by their mappers (src/db), never with `JSON.parse` in a feature or
// the HTTP adapter. (Which module may import which — layers, cycles, repos — is dependency-cruiser's,
// in .dependency-cruiser.cjs; dead files and exports are knip's.)
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const files = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.tsx?$/.test(name) ? [path] : [];
  });

const problems = [];
for (const file of [...files("src/features"), ...files("src/http")]) {
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (/\bJSON\.parse\(/.test(line)) problems.push(`${file}:${i + 1}: JSON.parse outside the mappers`);
    });
}
// wrangler.toml holds no resource ids: `npm run deploy` and wrangler's provisioning find or create
// them by name, and an id (a placeholder above all) would stop that (docs/deploy.md).
readFileSync("wrangler.toml", "utf8")
  .split("\n")
  .forEach((line, i) => {
    if (/^\s*(database_id|id|preview_id)\s*=/.test(line)) problems.push(`wrangler.toml:${i + 1}: a resource id`);
  });
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("house rules: ok");

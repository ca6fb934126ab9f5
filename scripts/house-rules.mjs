// `npm run lint:house`: the rules of the house that a linter does not know (README, "Architecture").
// - JSON columns are parsed by their mappers (src/db), never with `JSON.parse` in a feature or
//   the middleware;
// - no file under src/http/middleware/ imports a repo (the middleware reads headers; services decide).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const files = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.tsx?$/.test(name) ? [path] : [];
  });

const problems = [];
for (const file of [...files("src/features"), ...files("src/http/middleware")]) {
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (/\bJSON\.parse\(/.test(line)) problems.push(`${file}:${i + 1}: JSON.parse outside the mappers`);
      if (file.startsWith("src/http/middleware") && /^import .*\.repo["']/.test(line)) {
        problems.push(`${file}:${i + 1}: the middleware imports a repo`);
      }
    });
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("house rules: ok");

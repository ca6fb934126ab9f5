// What a catalog schema check costs at its worst (`npm run bench:schema`): the publish path's own
// check (src/features/events/entity-schema.ts, bundled for Node: the same V8 as workerd), on the
// hostile schemas and entities of test/hostile-input.test.ts, beside its floor — the same 60 KiB
// entity checked against `{}` — and a realistic schema. Every hostile case must stop at the step
// budget (400) within about 0.05 s; one publish's check holds its isolate that long at most.
import { mkdirSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

const out = "node_modules/.cache/bench-schema.mjs";
await build({
  entryPoints: ["src/features/events/entity-schema.ts"],
  bundle: true,
  format: "esm",
  platform: "node",
  outfile: out,
  logLevel: "error",
});
const { compileSchema } = await import(`../${out}`);

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Compiles once, then checks `ROUNDS` times (after 3 to warm up): median ms, and the outcome. */
function measure(schema, entity) {
  const validator = compileSchema(schema);
  const run = () => {
    try {
      return validator.check(entity).length === 0 ? "valid" : "invalid";
    } catch (err) {
      return err.message.includes("steps") || err.message.includes("deep")
        ? "over budget (400)"
        : `error: ${err.message}`;
    }
  };
  for (let i = 0; i < 3; i++) run();
  const times = [];
  let outcome;
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    outcome = run();
    times.push(performance.now() - t);
  }
  return { ms: Math.round(median(times) * 100) / 100, outcome };
}

const $defs = { d40: { type: "string" } };
for (let i = 0; i < 40; i++) $defs[`d${i}`] = { allOf: [{ $ref: `#/$defs/d${i + 1}` }, { $ref: `#/$defs/d${i + 1}` }] };
const invoice = {
  type: "object",
  required: ["id", "amount"],
  properties: {
    id: { type: "string", pattern: "^inv_[A-Za-z0-9]+$" },
    amount: { type: "integer", minimum: 0 },
    currency: { enum: ["eur", "usd", "gbp"] },
    email: { type: "string", pattern: "^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$" },
  },
};
const invoices = Array.from({ length: 600 }, (_, i) => ({
  id: `inv_${i}abcdef`,
  amount: i * 100,
  currency: "eur",
  email: `customer${i}@example.com`,
}));
const numbers = Array.from({ length: 30_000 }, (_, i) => i % 10);

const cases = [
  ["floor: a 60 KiB entity against {}", {}, { list: invoices }],
  [
    "realistic: 600 invoices, 2 patterns each",
    { properties: { list: { type: "array", items: invoice } } },
    { list: invoices },
  ],
  [
    "hostile: ^(a+)+$ on 60,000 a's and a !",
    { properties: { v: { pattern: "^(a+)+$" } } },
    { v: `${"a".repeat(60_000)}!` },
  ],
  [
    "hostile: (\\w+\\s?)*$ on 60,000 a's and a !",
    { properties: { v: { pattern: "(\\w+\\s?)*$" } } },
    { v: `${"a".repeat(60_000)}!` },
  ],
  ["hostile: $ref fan-out, 2^40 applications", { $defs, properties: { x: { $ref: "#/$defs/d0" } } }, { x: "s" }],
  [
    "hostile: 2,000 subschemas on 30,000 items",
    { properties: { list: { items: { allOf: Array.from({ length: 2000 }, () => ({ minimum: 0 })) } } } },
    { list: numbers },
  ],
  [
    "hostile: 2,000 anyOf branches on 30,000 items",
    { properties: { list: { items: { anyOf: Array.from({ length: 2000 }, () => ({ maximum: -1 })) } } } },
    { list: numbers },
  ],
  [
    "hostile: unevaluatedProperties on 8,000 objects",
    { properties: { list: { items: { allOf: [{ properties: { a: {} } }], unevaluatedProperties: false } } } },
    { list: Array.from({ length: 8000 }, () => ({ a: 1 })) },
  ],
  [
    "hostile: uniqueItems on 12,000 items",
    { properties: { tags: { uniqueItems: true } } },
    { tags: numbers.slice(0, 12_000).map((_, i) => i) },
  ],
  [
    "hostile: 100 patterns on 3,000 strings",
    {
      properties: { list: { items: { allOf: Array.from({ length: 100 }, (_, i) => ({ pattern: `(x+x+)+y${i}` })) } } },
    },
    { list: Array.from({ length: 3000 }, () => "xxxxxxxxxxxxxxx") },
  ],
];

const results = [];
for (const [name, schema, entity] of cases) {
  const r = measure(schema, entity);
  results.push({ name, ...r });
  console.log(`${name.padEnd(48)} ${String(r.ms).padStart(8)} ms  ${r.outcome}`);
}
const floor = results[0].ms;
const worst = Math.max(...results.slice(2).map((r) => r.ms));
console.log(`\nworst hostile check: ${worst} ms (${Math.round(worst / floor)}x the floor, ${floor} ms)`);
mkdirSync("bench/results", { recursive: true });
const file = `bench/results/${new Date().toISOString().slice(0, 10)}-schema.json`;
writeFileSync(file, `${JSON.stringify({ rounds: ROUNDS, node: process.version, results }, null, 2)}\n`);
console.log(`written to ${file}`);

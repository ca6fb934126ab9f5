/**
 * Stands in for `ajv` in the Worker bundle (wrangler.toml `[alias]`, and vitest's for the tests).
 * The MCP SDK builds an Ajv instance in every `Server`, but compiles a JSON Schema only to check an
 * elicitation answer or a tool's declared `outputSchema` — Keyhook uses neither (tool inputs are
 * checked by their zod schemas) — and Ajv's `new Function` code generation is refused by Workers
 * anyway. Leaving it out keeps ~140 KB (Ajv, its formats, fast-uri) out of the bundle.
 */
export default class Ajv {
  getSchema(): undefined {
    return undefined;
  }
  compile(): never {
    throw new Error("JSON Schema validation is not built into Keyhook's MCP server");
  }
  errorsText(): string {
    return "";
  }
}

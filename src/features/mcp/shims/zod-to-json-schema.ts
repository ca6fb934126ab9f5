/** Stands in for `zod-to-json-schema`, the SDK's converter for zod 3 schemas (see ./zod-v3.ts). */
export function zodToJsonSchema(): never {
  throw new Error("Keyhook's tool schemas are zod 4; zod 3 is not bundled");
}

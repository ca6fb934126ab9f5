/**
 * Stands in for `zod/v3` in the Worker bundle (see ./ajv.ts for how): the MCP SDK accepts zod 3
 * schemas beside zod 4 ones, and Keyhook's are all zod 4, so the zod 3 runtime (~58 KB) is never
 * used. Handing the SDK a zod 3 schema fails loudly instead of silently.
 */
export function object(): never {
  throw new Error("Keyhook's tool schemas are zod 4; zod 3 is not bundled");
}

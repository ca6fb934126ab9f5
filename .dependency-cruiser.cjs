/**
 * The house's arrows (docs/architecture.md): entry points → http / queue / cron → features →
 * lib / db. `npm run lint:deps` checks them; type-only imports count (a cycle through
 * `import type` means a type lives in the wrong file).
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A cycle, even through `import type`, means a type lives in the wrong file.",
      from: {},
      to: { circular: true },
    },
    {
      name: "lib-is-a-leaf",
      severity: "error",
      comment: "src/lib holds pure helpers: it imports nothing above it.",
      from: { path: "^src/lib/" },
      to: { path: "^src/", pathNot: "^src/lib/" },
    },
    {
      name: "db-below-features",
      severity: "error",
      comment: "src/db (schema, client) imports only lib.",
      from: { path: "^src/db/" },
      to: { path: "^src/", pathNot: "^src/(db|lib)/" },
    },
    {
      name: "platform-below-features",
      severity: "error",
      comment: "What every service is built from (platform, config) imports only lib and db.",
      from: { path: "^src/(platform|config)\\.ts$" },
      to: { path: "^src/", pathNot: "^src/(db|lib)/|^src/(platform|config)\\.ts$" },
    },
    {
      name: "services-know-no-http",
      severity: "error",
      comment:
        "Services, repos, schemas and every other non-HTTP module of a feature never import routes, handlers, a router's index, or src/http.",
      from: {
        path: "^src/features/",
        pathNot: "\\.(routes|handlers|endpoints)\\.tsx?$|/index\\.ts$|^src/features/mcp/",
      },
      to: { path: "^src/http/|^src/features/.+(\\.(routes|handlers|endpoints)\\.tsx?|/index\\.ts)$|^src/(app|compose|index|rpc)\\.ts$" },
    },
    {
      name: "features-below-adapters",
      severity: "error",
      comment: "Features never import an entry point or adapter (queue, cron, rpc, compose, the UI, the CLI).",
      from: { path: "^src/features/" },
      to: { path: "^src/(queue|cron|ui|cli|sdk|client)/|^src/(index|rpc|compose)\\.ts$" },
    },
    {
      name: "adapters-not-through-http",
      severity: "error",
      comment: "The queue consumer, the cron and the service binding reach services through compose, never through HTTP.",
      from: { path: "^src/(queue|cron)/|^src/rpc\\.ts$" },
      to: { path: "^src/http/|^src/features/.+(\\.(routes|handlers|endpoints)\\.tsx?|/index\\.ts)$" },
    },
    {
      name: "ui-is-a-browser-app",
      severity: "error",
      comment: "The admin page runs in the browser: the typed client and lib's pure helpers, never the Worker's code.",
      from: { path: "^src/ui/" },
      to: { path: "^src/", pathNot: "^src/(ui|lib|client)/" },
    },
    {
      name: "middleware-reads-no-repo",
      severity: "error",
      comment: "The middleware reads headers; services decide (and only services and repos touch D1).",
      from: { path: "^src/http/" },
      to: { path: "\\.repo\\.ts$" },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // The Workers runtime's own modules.
    builtInModules: { add: ["cloudflare:workers", "cloudflare:test"] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
    exclude: { path: "^src/client/schema\\.ts$" },
  },
};

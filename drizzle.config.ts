import { defineConfig } from "drizzle-kit";

/** drizzle-kit 0.x writes flat `migrations/NNNN_name.sql`, the layout wrangler and the test plugin read. */
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});

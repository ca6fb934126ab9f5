import { VARIABLES } from "./config";

/** Where a settings table sits in a Markdown page: between these two comments. */
const TABLE_START = "<!-- settings-table: generated from src/config.ts by `npm run docs:settings` -->";
const TABLE_END = "<!-- /settings-table -->";

/** The settings table, one row per variable, from the schema (the docs show exactly this). */
export function settingsTable(): string {
  const rows = Object.entries(VARIABLES).map(([name, v]) => {
    const shown = v.default === undefined || v.default === "" ? "—" : `\`${v.default}\``;
    const kind = "required" in v && v.required ? "secret, required" : v.kind;
    return `| \`${name}\` | ${kind} | ${shown} | ${v.description.replaceAll("|", "\\|")} |`;
  });
  return ["| name | kind | default | what it does |", "|---|---|---|---|", ...rows].join("\n");
}

/** The page with its table (between the markers) replaced by the current one; null if it has no markers. */
export function withSettingsTable(page: string): string | null {
  const start = page.indexOf(TABLE_START);
  const end = page.indexOf(TABLE_END);
  if (start < 0 || end < start) return null;
  return `${page.slice(0, start + TABLE_START.length)}\n${settingsTable()}\n${page.slice(end)}`;
}

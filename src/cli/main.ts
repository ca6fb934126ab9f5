import { parseArgs } from "node:util";
import { createClient, type ErrorCode, KeyhookError } from "../client/index.ts";
import { COMMANDS, type Command, UsageError } from "./commands.ts";

const GLOBAL = {
  url: { type: "string", description: "Keyhook's URL (default: $KEYHOOK_URL)" },
  key: { type: "string", description: "an API key, user JWT or operator token (default: $KEYHOOK_API_KEY)" },
  account: { type: "string", description: "for the operator: the account to act in (default: $KEYHOOK_ACCOUNT_ID)" },
  json: { type: "boolean", description: "print JSON for scripts instead of tables" },
  help: { type: "boolean", description: "show help" },
} as const;

function optionLines(options: Record<string, { description: string }>) {
  return Object.entries(options).map(([name, o]) => `  --${name.padEnd(18)} ${o.description}`);
}

function helpFor(_name: string, cmd: Command) {
  return [
    `Usage: keyhook ${cmd.usage}`,
    "",
    cmd.summary,
    "",
    "Options:",
    ...optionLines({ ...(cmd.options ?? {}), ...GLOBAL }),
  ].join("\n");
}

function overview() {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  return [
    "Usage: keyhook <command> [options]",
    "",
    "Configured by KEYHOOK_URL and KEYHOOK_API_KEY (or --url and --key).",
    "",
    "Commands:",
    ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n]?.summary ?? ""}`),
    "",
    "Global options:",
    ...optionLines(GLOBAL),
    "",
    "Run `keyhook <command> --help` for a command's options. Exit codes: 0 ok, 1 API error, 2 usage error.",
  ].join("\n");
}

/** What to do about the errors a person at a terminal can fix (codes from the API's table). */
const HINTS = {
  missing_credentials: "Set KEYHOOK_API_KEY (or pass --key).",
  invalid_credentials: "Check KEYHOOK_API_KEY: the key is unknown, mistyped or revoked.",
  key_expired: "The key has expired: create or rotate one.",
  insufficient_scope: "The key lacks a permission this command needs.",
  missing_account: "The operator token needs an account: set KEYHOOK_ACCOUNT_ID (or pass --account).",
  rate_limited: "The key's hourly limit is spent: wait for the next hour or raise its limit.",
} satisfies Partial<Record<ErrorCode, string>>;

/** Runs one CLI invocation; answers the exit code. Output goes to stdout, problems to stderr. */
export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const words = argv.filter((a) => !a.startsWith("-"));
  const name = [words.slice(0, 2).join(" "), words[0] ?? ""].find((n) => n in COMMANDS);
  const cmd = name === undefined ? undefined : COMMANDS[name];
  if (!name || !cmd) {
    if (argv.length === 0 || argv.includes("--help") || argv.includes("-h")) {
      console.log(overview());
      return argv.length === 0 ? 2 : 0;
    }
    console.error(`keyhook: unknown command "${words.slice(0, 2).join(" ")}"\n\n${overview()}`);
    return 2;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...(cmd.options ?? {}), ...GLOBAL },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    console.error(`keyhook ${name}: ${(err as Error).message}\n\n${helpFor(name, cmd)}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(helpFor(name, cmd));
    return 0;
  }
  const args = positionals.slice(name.split(" ").length);
  const needed = cmd.args ?? [];
  if (args.length !== needed.length) {
    console.error(
      `keyhook ${name}: expected ${needed.map((a) => `<${a}>`).join(" ") || "no arguments"}\n\n${helpFor(name, cmd)}`,
    );
    return 2;
  }
  const url = (values.url as string | undefined) ?? env.KEYHOOK_URL;
  const key = (values.key as string | undefined) ?? env.KEYHOOK_API_KEY;
  if (!url || !key) {
    console.error("keyhook: set KEYHOOK_URL and KEYHOOK_API_KEY (or pass --url and --key)");
    return 2;
  }
  const isApiKey = /^[a-z0-9]+_(live|test)_/.test(key);
  const client = createClient({
    baseUrl: url,
    ...(isApiKey ? { apiKey: key } : { token: key }),
    accountId: (values.account as string | undefined) ?? env.KEYHOOK_ACCOUNT_ID,
  });
  try {
    // As many positionals as the command names (checked above): the tuple type says so.
    const out = await cmd.run(client, [args[0] ?? "", args[1] ?? ""], {
      ...(values as Record<string, string | boolean | undefined>),
      // Where the client points, for commands that talk to Keyhook another way (`import svix`).
      url,
      key,
    });
    console.log(values.json ? JSON.stringify(out.data, null, 2) : out.text);
    if (out.warn) console.error(`\nWarning: ${out.warn}`);
    return out.exitCode ?? 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`keyhook ${name}: ${err.message}\n\n${helpFor(name, cmd)}`);
      return 2;
    }
    if (err instanceof KeyhookError) {
      const hint = HINTS[err.code as keyof typeof HINTS];
      console.error(`error: ${err.code}: ${err.message}${hint ? `\n${hint}` : ""}`);
      return 1;
    }
    console.error(`error: could not reach Keyhook at ${url}: ${(err as Error).message}`);
    return 1;
  }
}

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { DEFAULT_ENDPOINT } from "./api-client.ts";
import {
  type CommandSpec,
  commandLine,
  formatHelp,
  HELP_FLAG,
  parseCommandLine,
  synopsis,
  table,
  UsageError,
} from "./args.ts";
import { type Command, type CommandGroup, type Entry, isGroup, subcommandName } from "./command.ts";
import { command as classify } from "./commands/classify.ts";
import { command as dataset } from "./commands/dataset.ts";
import { command as evalCommand } from "./commands/eval.ts";
import { command as keys } from "./commands/keys.ts";
import { command as models } from "./commands/models.ts";
import { command as predict } from "./commands/predict.ts";
import { command as tokenize } from "./commands/tokenize.ts";
import { command as trainCommand } from "./commands/train.ts";

/**
 * Every command, in help's order. A command is a module exporting `command` (command.ts): its flags
 * are declared there once, and parsing, validation and `--help` come from that declaration. The
 * modules are light to load (predict loads onnxruntime only when it runs).
 */
export const COMMANDS: readonly Entry[] = [
  tokenize,
  trainCommand,
  predict,
  classify,
  evalCommand,
  dataset,
  models,
  keys,
];

/** The version in package.json. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../package.json"), "utf8"));
  return String(pkg.version);
}

const TOP: CommandSpec = {
  name: "",
  summary: "IntentQL: intent classification, offline or through the running GraphQL API",
  flags: [{ name: "version", short: "v", description: "print the version (package.json's) and exit" }],
};

export function entryName(entry: Entry): string {
  return isGroup(entry) ? entry.name : entry.spec.name;
}

/** Every runnable command, subcommands included: `keys create` rather than `keys`. */
export function allCommands(): Command[] {
  return COMMANDS.flatMap((e) => (isGroup(e) ? e.subcommands : [e]));
}

const orList = (words: readonly string[]) =>
  words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;

export function topHelp(): string {
  return [
    "usage: intentql <command> [options]",
    "",
    `  ${TOP.summary}`,
    "",
    "commands:",
    ...table(allCommands().map((c) => [c.spec.name, c.spec.summary] as const)),
    "",
    "options:",
    // Both are actions, not settings: no default to show.
    ...table([...TOP.flags, HELP_FLAG].map((f) => [`-${f.short}, --${f.name}`, f.description])),
    "",
    "`intentql <command> --help` lists the command's flags, with their defaults. Commands that use the",
    `API take --endpoint URL (default: ${DEFAULT_ENDPOINT}, which \`npm start\` serves) and a key`,
    "in INTENTQL_API_KEY.",
  ].join("\n");
}

export function groupHelp(group: CommandGroup): string {
  const names = group.subcommands.map(subcommandName);
  return [
    `usage: intentql ${group.name} <${names.join("|")}> [options]`,
    "",
    `  ${group.summary}`,
    ...(group.description ?? []).map((l) => (l ? `  ${l}` : "")),
    "",
    "subcommands:",
    ...group.subcommands.flatMap((c) => [`  ${synopsis(c.spec)}`, `      ${c.spec.summary}`]),
    "",
    "options:",
    ...table([["-h, --help", HELP_FLAG.description]]),
    "",
    `\`intentql ${group.name} <subcommand> --help\` lists the subcommand's flags, with their defaults.`,
  ].join("\n");
}

function findEntry(name: string): Entry {
  const entry = COMMANDS.find((e) => entryName(e) === name);
  if (!entry)
    throw new UsageError(
      `unknown command "${name}": use ${orList(COMMANDS.map(entryName))} (see intentql --help)`,
    );
  return entry;
}

function findSubcommand(group: CommandGroup, name: string): Command {
  const names = group.subcommands.map(subcommandName);
  const found = group.subcommands.find((c) => subcommandName(c) === name);
  if (found) return found;
  const what = name.startsWith("-")
    ? `a subcommand before any flag, got "${name}"`
    : `no subcommand "${name}"`;
  throw new UsageError(`${what}: use ${orList(names)} (see intentql ${group.name} --help)`);
}

/** `intentql help [command [subcommand]]`. */
function helpFor(topic: readonly string[]): string {
  const [name, sub] = topic;
  if (name === undefined) return topHelp();
  const entry = findEntry(name);
  if (!isGroup(entry)) return formatHelp(entry.spec);
  return sub === undefined ? groupHelp(entry) : formatHelp(findSubcommand(entry, sub).spec);
}

/** Runs the CLI: exit 0 on success, 1 when the work fails, 2 on a usage error (stderr says which). */
export async function main(argv: string[]): Promise<number> {
  let where = "intentql";
  try {
    const [name, ...rest] = argv;
    if (name === undefined)
      throw new UsageError(`a command is needed: ${orList(COMMANDS.map(entryName))} (see intentql --help)`);
    if (name === "help") {
      process.stdout.write(`${helpFor(rest)}\n`);
      return 0;
    }
    if (name.startsWith("-")) {
      const parsed = parseCommandLine(TOP, argv);
      if (parsed.help) process.stdout.write(`${topHelp()}\n`);
      else if (parsed.args.boolean("version")) process.stdout.write(`${version()}\n`);
      else throw new UsageError(`a command is needed (see intentql --help)`);
      return 0;
    }
    const entry = findEntry(name);
    let command: Command;
    let args = rest;
    if (isGroup(entry)) {
      where = `intentql ${entry.name}`;
      const [sub, ...subArgs] = rest;
      if (sub === undefined)
        throw new UsageError(
          `a subcommand is needed: ${orList(entry.subcommands.map(subcommandName))} (see intentql ${entry.name} --help)`,
        );
      if (sub === "--help" || sub === "-h" || sub === "help") {
        const topic = sub === "help" ? subArgs[0] : undefined;
        const help = topic === undefined ? groupHelp(entry) : formatHelp(findSubcommand(entry, topic).spec);
        process.stdout.write(`${help}\n`);
        return 0;
      }
      command = findSubcommand(entry, sub);
      args = subArgs;
    } else {
      command = entry;
    }
    where = commandLine(command.spec);
    const parsed = parseCommandLine(command.spec, args);
    if (parsed.help) {
      process.stdout.write(`${formatHelp(command.spec)}\n`);
      return 0;
    }
    return await command.action(parsed.args);
  } catch (error) {
    process.stderr.write(`${where}: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

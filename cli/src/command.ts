/**
 * What a CLI command is: its declaration (args.ts's CommandSpec: name, summary, flags, positionals)
 * and the action that runs once the command line is parsed. Commands with subcommands (`keys`,
 * `dataset`) are groups of such commands. main.ts dispatches, parses and prints help for all of them.
 */
import type { Args, CommandSpec, FlagSpec } from "./args.ts";

export interface Command {
  readonly spec: CommandSpec;
  readonly action: (args: Args) => Promise<number>;
}

export interface CommandGroup {
  /** `keys`. */
  readonly name: string;
  readonly summary: string;
  readonly description?: readonly string[];
  readonly subcommands: readonly Command[];
}

export type Entry = Command | CommandGroup;

export function isGroup(entry: Entry): entry is CommandGroup {
  return "subcommands" in entry;
}

/** Declares a command; `args` then only accepts the flag names it declares. */
export function defineCommand<const F extends readonly FlagSpec[]>(
  spec: CommandSpec<F>,
  action: (args: Args<F[number]["name"]>) => Promise<number>,
): Command {
  return { spec, action: action as (args: Args) => Promise<number> };
}

/** The subcommand's last word: `create` for `keys create`. */
export function subcommandName(command: Command): string {
  return command.spec.name.split(" ").at(-1)!;
}

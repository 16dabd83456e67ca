/**
 * The CLI's argument parser. Each command declares its flags once (name, value or switch, a one-line
 * description, the default, whether it is required, the values it allows); parsing, validation,
 * error messages and `--help` all come from that declaration. `--help`/`-h` is known here, for every
 * command, so no command handles help itself. No dependency: the CLI has few flags, and a parser
 * package would add more surface than it removes.
 */

/** A mistake in the command line: the CLI prints it and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export interface FlagSpec {
  /** Without the dashes: `batch-size` for `--batch-size`. */
  readonly name: string;
  /** One letter for a `-x` spelling. */
  readonly short?: string;
  /** The value's placeholder in help (FILE, N, URL); absent for a switch, which is off unless given. */
  readonly value?: string;
  /** One line, for help. */
  readonly description: string;
  /** The value when the flag is absent; help shows it. */
  readonly default?: string;
  /** Help's words for the default when it is no plain value ("the file's name", "none"). */
  readonly defaultText?: string;
  /** Set on required flags: what to give, e.g. "a JSONL file, e.g. data/massive-en/test.jsonl". */
  readonly required?: string;
  /** The only values allowed. */
  readonly choices?: readonly string[];
  /** An integer flag, at least `min` (and at most `max`, where the work grows with the value). */
  readonly integer?: { readonly min: number; readonly max?: number };
}

export interface PositionalSpec {
  /** Placeholder in help: `TEXT…`, `ID|KEY`. */
  readonly name: string;
  readonly description: string;
  readonly min: number;
  /** `Number.POSITIVE_INFINITY` for any number. */
  readonly max: number;
}

export interface CommandSpec<F extends readonly FlagSpec[] = readonly FlagSpec[]> {
  /** The words after `intentql`: `predict`, `keys create`; "" for `intentql` itself. */
  readonly name: string;
  /** One line, for the command lists. */
  readonly summary: string;
  /** More lines for the command's own help. */
  readonly description?: readonly string[];
  readonly flags: F;
  /** None when absent: any positional argument is then an error. */
  readonly positionals?: PositionalSpec;
}

/** The flags of a parsed command line: explicit values, else the declared defaults. */
export class Args<N extends string = string> {
  constructor(
    private readonly spec: CommandSpec,
    private readonly values: ReadonlyMap<string, string>,
    readonly positionals: readonly string[],
  ) {}

  private declared(name: string): FlagSpec {
    const flag = this.spec.flags.find((f) => f.name === name);
    if (!flag) throw new Error(`intentql ${this.spec.name} reads --${name}, which it does not declare`);
    return flag;
  }

  /** Whether the flag was on the command line. */
  has(name: N): boolean {
    this.declared(name);
    return this.values.has(name);
  }

  /** A switch: on when given. */
  boolean(name: N): boolean {
    return this.has(name);
  }

  /** The value given, else the default, else undefined. */
  string(name: N): string | undefined {
    return this.values.get(name) ?? this.declared(name).default;
  }

  /** A required flag's value (parseCommandLine checked that there is one). */
  required(name: N): string {
    const value = this.string(name);
    if (value === undefined) throw new Error(`--${name} has no value and no default`);
    return value;
  }

  /** An integer flag's value (parseCommandLine checked it). */
  integer(name: N): number {
    return Number(this.required(name));
  }
}

export const HELP_FLAG: FlagSpec = { name: "help", short: "h", description: "show this help and exit" };

export type Parsed<N extends string> = { help: true } | { help: false; args: Args<N> };

/** `intentql predict`, `intentql` for the top level. */
export function commandLine(spec: Pick<CommandSpec, "name">): string {
  return spec.name ? `intentql ${spec.name}` : "intentql";
}

const seeHelp = (spec: CommandSpec) => `see ${commandLine(spec)} --help`;

/** `--help` or `-h` anywhere before a `--`: help wins over every other argument and mistake. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === "--") return false;
    if (arg === "--help" || arg === "-h") return true;
  }
  return false;
}

/**
 * Parses `--flag value`, `--flag=value`, switches, `-h`, positionals and `--` (everything after it
 * is positional), then checks values (choices, integers), required flags and the positional count.
 * Every mistake is a UsageError that names the flag and the fix.
 */
export function parseCommandLine<const F extends readonly FlagSpec[]>(
  spec: CommandSpec<F>,
  argv: readonly string[],
): Parsed<F[number]["name"]> {
  if (wantsHelp(argv)) return { help: true };
  const values = new Map<string, string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let flag: FlagSpec | undefined;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      if (eq !== -1) inline = arg.slice(eq + 1);
      flag = spec.flags.find((f) => f.name === name);
      if (!flag) throw new UsageError(unknownFlag(spec, `--${name}`));
    } else if (/^-[A-Za-z]/.test(arg)) {
      // `-x` (a short flag); other words that start with "-" ("-", "-5") are positional.
      flag = arg.length === 2 ? spec.flags.find((f) => f.short === arg[1]) : undefined;
      if (!flag) throw new UsageError(unknownFlag(spec, arg));
    } else {
      positionals.push(arg);
      continue;
    }
    if (flag.value === undefined) {
      if (inline !== undefined)
        throw new UsageError(`--${flag.name} is a switch and takes no value (got "${arg}")`);
      values.set(flag.name, "true");
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--"))
        throw new UsageError(
          `--${flag.name} needs a value: --${flag.name} ${flag.value} (${flag.description})`,
        );
      value = next;
      i++;
    }
    checkValue(flag, value);
    values.set(flag.name, value);
  }
  // Stray words first: `predict data.jsonl` is better told about the word than about --data.
  checkPositionals(spec, positionals);
  for (const flag of spec.flags) {
    if (flag.required !== undefined && !values.get(flag.name))
      throw new UsageError(`--${flag.name} is required: ${flag.required}`);
  }
  return { help: false, args: new Args(spec, values, positionals) };
}

function checkValue(flag: FlagSpec, value: string): void {
  if (flag.choices && !flag.choices.includes(value))
    throw new UsageError(`--${flag.name} must be one of ${flag.choices.join(", ")} (got "${value}")`);
  if (flag.integer) {
    const n = Number(value);
    const { min, max } = flag.integer;
    if (value.trim() === "" || !Number.isInteger(n) || n < min || (max !== undefined && n > max))
      throw new UsageError(
        `--${flag.name} must be an integer ${max === undefined ? `≥ ${min}` : `from ${min} to ${max}`} (got "${value}")`,
      );
  }
}

function checkPositionals(spec: CommandSpec, positionals: readonly string[]): void {
  const p = spec.positionals;
  const max = p?.max ?? 0;
  if (positionals.length > max) {
    const takes = p === undefined || max === 0 ? "takes no arguments" : `takes at most ${max} ${p.name}`;
    throw new UsageError(
      `unexpected argument "${positionals[max]}": ${commandLine(spec)} ${takes} (${seeHelp(spec)})`,
    );
  }
  if (p && positionals.length < p.min) {
    const count = p.min === 1 ? (p.max === 1 ? "one" : "at least one") : `at least ${p.min}`;
    throw new UsageError(`give ${count} ${p.name.replace(/…$/, "")}: ${p.description}`);
  }
}

function unknownFlag(spec: CommandSpec, given: string): string {
  const name = given.replace(/^-+/, "");
  const near = spec.flags
    .map((f) => ({ f, d: editDistance(name, f.name) }))
    .filter(({ d }) => d <= Math.min(2, name.length - 1))
    .sort((a, b) => a.d - b.d)[0];
  return `unknown flag ${given} (${near ? `did you mean --${near.f.name}? ` : ""}${seeHelp(spec)})`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = current;
  }
  return previous[b.length]!;
}

// ---------------------------------------------------------------------------------------------
// Help

/** `--bundle DIR`, `-h, --help`. */
function flagLabel(flag: FlagSpec): string {
  const long = `--${flag.name}${flag.value ? ` ${flag.value}` : ""}`;
  return flag.short ? `-${flag.short}, ${long}` : `    ${long}`;
}

/** `(required)`, `(default: fp32)`, `(default: off)`; nothing for help itself. */
export function defaultNote(flag: FlagSpec): string {
  if (flag === HELP_FLAG) return "";
  if (flag.required !== undefined) return " (required)";
  if (flag.value === undefined) return ` (default: ${flag.defaultText ?? "off"})`;
  const shown = flag.defaultText ?? flag.default;
  if (shown === undefined) throw new Error(`--${flag.name} declares neither a default nor defaultText`);
  return ` (default: ${shown})`;
}

/** The one line help gives a flag: description, allowed values, default. */
export function describeFlag(flag: FlagSpec): string {
  const choices = flag.choices ? `: ${flag.choices.join(", ")}` : "";
  return `${flag.description}${choices}${defaultNote(flag)}`;
}

/** `intentql predict --bundle DIR --data FILE [options]`. */
export function synopsis(spec: CommandSpec): string {
  const required = spec.flags.filter((f) => f.required !== undefined).map((f) => `--${f.name} ${f.value}`);
  const optional = spec.flags.some((f) => f.required === undefined) ? ["[options]"] : [];
  const p = spec.positionals;
  const positional = p ? [p.min > 0 ? p.name : `[${p.name}]`] : [];
  return [commandLine(spec), ...required, ...optional, ...positional].join(" ");
}

/** Two aligned columns, indented. */
export function table(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}   ${right}`.trimEnd());
}

export function formatHelp(spec: CommandSpec): string {
  const flags = [...spec.flags, HELP_FLAG];
  const lines = [`usage: ${synopsis(spec)}`, "", `  ${spec.summary}`];
  if (spec.description) lines.push(...spec.description.map((l) => (l ? `  ${l}` : "")));
  if (spec.positionals) {
    lines.push("", "arguments:", ...table([[spec.positionals.name, spec.positionals.description]]));
  }
  lines.push("", "options:", ...table(flags.map((f) => [flagLabel(f), describeFlag(f)] as const)));
  return lines.join("\n");
}

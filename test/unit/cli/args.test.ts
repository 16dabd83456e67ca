import { describe, expect, it } from "vitest";
import {
  type Args,
  type CommandSpec,
  describeFlag,
  formatHelp,
  parseCommandLine,
  synopsis,
  UsageError,
} from "../../../cli/src/args.ts";

const SPEC = {
  name: "demo",
  summary: "a command for these tests",
  flags: [
    { name: "data", value: "FILE", description: "input", required: "a JSONL file, e.g. x.jsonl" },
    { name: "variant", value: "V", description: "which", default: "fp32", choices: ["fp32", "int8"] },
    { name: "batch-size", value: "N", description: "texts per batch", default: "8", integer: { min: 1 } },
    { name: "report", value: "FILE", description: "where to write", defaultText: "none" },
    { name: "json", description: "JSON output" },
  ],
  positionals: { name: "TEXT…", description: "texts", min: 0, max: 2 },
} as const satisfies CommandSpec;

function parse(...argv: string[]): Args<(typeof SPEC.flags)[number]["name"]> {
  const parsed = parseCommandLine(SPEC, argv);
  if (parsed.help) throw new Error("unexpected help");
  return parsed.args;
}

function usageError(...argv: string[]): string {
  try {
    parseCommandLine(SPEC, argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`no usage error for ${argv.join(" ")}`);
}

describe("parseCommandLine", () => {
  it("reads --flag value, --flag=value, switches, positionals and --", () => {
    const args = parse("--data", "a.jsonl", "one", "--variant=int8", "--json", "--", "--two");
    expect(args.required("data")).toBe("a.jsonl");
    expect(args.string("variant")).toBe("int8");
    expect(args.boolean("json")).toBe(true);
    expect(args.positionals).toEqual(["one", "--two"]);
  });

  it("falls back to the declared defaults", () => {
    const args = parse("--data", "a");
    expect(args.string("variant")).toBe("fp32");
    expect(args.has("variant")).toBe(false);
    expect(args.integer("batch-size")).toBe(8);
    expect(args.string("report")).toBeUndefined();
    expect(args.boolean("json")).toBe(false);
  });

  it("answers help for --help or -h anywhere before --, whatever else is wrong", () => {
    for (const argv of [
      ["--help"],
      ["-h"],
      ["--bogus", "-h"],
      ["--data", "--help"],
      ["--variant", "x", "-h"],
    ])
      expect(parseCommandLine(SPEC, argv)).toEqual({ help: true });
    expect(parseCommandLine(SPEC, ["--data", "a", "--", "-h"]).help).toBe(false);
  });

  it("names the flag and the fix in every usage error", () => {
    expect(usageError("--data", "a", "--bogus")).toBe("unknown flag --bogus (see intentql demo --help)");
    expect(usageError("--data", "a", "--varaint", "x")).toBe(
      "unknown flag --varaint (did you mean --variant? see intentql demo --help)",
    );
    expect(usageError("--data", "a", "-x")).toBe("unknown flag -x (see intentql demo --help)");
    expect(usageError()).toBe("--data is required: a JSONL file, e.g. x.jsonl");
    expect(usageError("--data=")).toBe("--data is required: a JSONL file, e.g. x.jsonl");
    expect(usageError("--data")).toBe("--data needs a value: --data FILE (input)");
    expect(usageError("--data", "--json")).toMatch(/^--data needs a value/);
    expect(usageError("--data", "a", "--variant", "fp64")).toBe(
      '--variant must be one of fp32, int8 (got "fp64")',
    );
    for (const bad of ["0", "1.5", "x", ""])
      expect(usageError("--data", "a", "--batch-size", bad)).toBe(
        `--batch-size must be an integer ≥ 1 (got "${bad}")`,
      );
    expect(usageError("--data", "a", "--json=yes")).toBe(
      '--json is a switch and takes no value (got "--json=yes")',
    );
    expect(usageError("--data", "a", "x", "y", "z")).toBe(
      'unexpected argument "z": intentql demo takes at most 2 TEXT… (see intentql demo --help)',
    );
  });

  it("counts positionals", () => {
    const none = { ...SPEC, positionals: undefined };
    expect(() => parseCommandLine(none, ["--data", "a", "x"])).toThrow(
      'unexpected argument "x": intentql demo takes no arguments',
    );
    const one = { ...SPEC, positionals: { name: "ID", description: "the id", min: 1, max: 1 } };
    expect(() => parseCommandLine(one, ["--data", "a"])).toThrow("give one ID: the id");
    const many = { ...SPEC, positionals: { name: "TEXT…", description: "texts", min: 1, max: Infinity } };
    expect(() => parseCommandLine(many, ["--data", "a"])).toThrow("give at least one TEXT: texts");
    expect(() => parseCommandLine(many, ["--data", "a", "-", "-5"])).not.toThrow();
  });

  it("refuses to read a flag the command did not declare", () => {
    const args = parse("--data", "a") as unknown as Args;
    expect(() => args.string("other")).toThrow(/does not declare/);
  });
});

describe("help", () => {
  it("lists every flag on one line with its default, and -h, --help", () => {
    const help = formatHelp(SPEC);
    expect(help.split("\n")[0]).toBe(`usage: ${synopsis(SPEC)}`);
    expect(synopsis(SPEC)).toBe("intentql demo --data FILE [options] [TEXT…]");
    const options = help.split("\noptions:\n")[1]!.split("\n");
    expect(options).toHaveLength(SPEC.flags.length + 1);
    SPEC.flags.forEach((flag, i) => {
      expect(options[i]).toMatch(new RegExp(`^ +--${flag.name}\\b`));
      expect(options[i]!.endsWith(describeFlag(flag))).toBe(true);
    });
    expect(help).toMatch(/--data FILE +input \(required\)$/m);
    expect(help).toMatch(/--variant V +which: fp32, int8 \(default: fp32\)$/m);
    expect(help).toMatch(/--report FILE +where to write \(default: none\)$/m);
    expect(help).toMatch(/--json +JSON output \(default: off\)$/m);
    expect(help).toMatch(/-h, --help +show this help and exit$/m);
  });
});

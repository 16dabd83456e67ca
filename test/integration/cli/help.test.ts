/**
 * Help, version and usage errors for every command. The command table (cli/src/main.ts) drives the
 * cases, so a new command or flag is covered without touching this file. Most cases call `main`
 * in-process (the same code the bin runs); a few spawn the bin for its real exit status.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { describeFlag } from "../../../cli/src/args.ts";
import { isGroup, subcommandName } from "../../../cli/src/command.ts";
import { allCommands, COMMANDS, entryName, main } from "../../../cli/src/main.ts";

const VERSION: string = JSON.parse(readFileSync("package.json", "utf8")).version;

/** Runs `main` in-process and captures what it writes. */
async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await main(argv), stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

afterEach(() => vi.restoreAllMocks());

function bin(...argv: string[]) {
  const r = spawnSync(process.execPath, ["cli/bin/intentql.js", ...argv], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The lines of help's options section. */
const optionLines = (help: string) => help.split("\noptions:\n")[1]!.trimEnd().split("\n\n")[0]!.split("\n");

describe("intentql --help", () => {
  it("top-level help lists every command and subcommand, and exits 0", async () => {
    for (const flag of ["--help", "-h"]) {
      const r = await run(flag);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^usage: intentql <command> \[options\]/);
      for (const command of allCommands())
        expect(r.stdout).toMatch(
          new RegExp(`^  ${command.spec.name} +${reEscape(command.spec.summary)}$`, "m"),
        );
      expect(optionLines(r.stdout)).toEqual([
        expect.stringMatching(/^ {2}-v, --version +print the version/),
        expect.stringMatching(/^ {2}-h, --help +show this help and exit$/),
      ]);
    }
    expect((await run("help")).stdout).toBe((await run("--help")).stdout);
  });

  for (const command of allCommands()) {
    const words = command.spec.name.split(" ");
    it(`${command.spec.name} --help lists every flag with its description and default, and exits 0`, async () => {
      const r = await run(...words, "--help");
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.stdout.split("\n")[0]).toMatch(new RegExp(`^usage: intentql ${command.spec.name}( |$)`));
      const lines = optionLines(r.stdout);
      expect(lines).toHaveLength(command.spec.flags.length + 1);
      command.spec.flags.forEach((flag, i) => {
        const line = lines[i]!;
        expect(line).toMatch(
          new RegExp(`^ +--${flag.name}${flag.value ? ` ${reEscape(flag.value)}` : ""} +\\S`),
        );
        expect(line.endsWith(describeFlag(flag)), line).toBe(true);
        expect(line).toMatch(/ \((required|default: [^)]+)\)$/);
        // The default shown is a value the command would accept.
        if (flag.default !== undefined && flag.choices) expect(flag.choices).toContain(flag.default);
        if (flag.default !== undefined && flag.integer)
          expect(Number(flag.default)).toBeGreaterThanOrEqual(flag.integer.min);
      });
      expect(lines.at(-1)).toMatch(/^ {2}-h, --help +show this help and exit$/);
      for (const other of [
        [...words, "-h"],
        ["help", ...words],
      ])
        expect((await run(...other)).stdout, other.join(" ")).toBe(r.stdout);
    });
  }

  for (const group of COMMANDS.filter(isGroup)) {
    it(`${group.name} --help lists its subcommands, and exits 0`, async () => {
      const r = await run(group.name, "--help");
      expect(r.code, r.stderr).toBe(0);
      for (const sub of group.subcommands) {
        expect(r.stdout).toContain(`intentql ${sub.spec.name}`);
        expect(r.stdout).toContain(sub.spec.summary);
        expect((await run(group.name, "help", subcommandName(sub))).stdout).toBe(
          (await run(group.name, subcommandName(sub), "--help")).stdout,
        );
      }
      expect((await run(group.name, "-h")).stdout).toBe(r.stdout);
    });
  }

  it("works from the bin: exit 0, help on stdout (classify --help used to exit 2)", () => {
    for (const argv of [
      ["--help"],
      ["classify", "--help"],
      ["predict", "-h"],
      ["keys", "revoke", "--help"],
    ]) {
      const r = bin(...argv);
      expect(r.code, `${argv.join(" ")}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/^usage: intentql/);
      expect(r.stderr).toBe("");
    }
  });
});

describe("intentql --version", () => {
  it("prints package.json's version and exits 0", async () => {
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ["--version", "-v"]) {
      const r = bin(flag);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${VERSION}\n`);
    }
  });
});

describe("usage errors exit 2 and name the flag and the fix", () => {
  for (const command of allCommands()) {
    const words = command.spec.name.split(" ");
    it(`${command.spec.name}: an unknown flag`, async () => {
      const r = await run(...words, "--foo");
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(
        `intentql ${command.spec.name}: unknown flag --foo (see intentql ${command.spec.name} --help)\n`,
      );
    });
    for (const flag of command.spec.flags.filter((f) => f.choices || f.integer)) {
      it(`${command.spec.name}: a bad --${flag.name}`, async () => {
        const r = await run(...words, `--${flag.name}`, "fp64");
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(
          new RegExp(
            `^intentql ${command.spec.name}: --${flag.name} must be (one of|an integer).* \\(got "fp64"\\)\\n$`,
          ),
        );
      });
    }
    for (const flag of command.spec.flags.filter((f) => f.required !== undefined)) {
      it(`${command.spec.name}: --${flag.name} missing`, async () => {
        const others = command.spec.flags
          .filter((f) => f.required !== undefined && f !== flag)
          .flatMap((f) => [`--${f.name}`, "x"]);
        const r = await run(...words, ...others);
        expect(r.code).toBe(2);
        expect(r.stderr).toBe(
          `intentql ${command.spec.name}: --${flag.name} is required: ${flag.required}\n`,
        );
      });
    }
  }

  it("spells out the examples of the issue", async () => {
    const variant = await run("predict", "--bundle", "b", "--data", "d", "--variant", "fp64");
    expect(variant.stderr).toBe('intentql predict: --variant must be one of fp32, fp16, int8 (got "fp64")\n');
    const data = await run("predict", "--bundle", "b");
    expect(data.stderr).toBe(
      "intentql predict: --data is required: a JSONL file, e.g. data/massive-en/test.jsonl\n",
    );
    const near = await run("predict", "--varaint", "int8");
    expect(near.stderr).toMatch(
      /unknown flag --varaint \(did you mean --variant\? see intentql predict --help\)/,
    );
  });

  it("unknown commands and subcommands, missing ones, stray arguments", async () => {
    const names = COMMANDS.map(entryName);
    for (const [argv, message] of [
      [[], /^intentql: a command is needed: tokenize, .* or keys \(see intentql --help\)$/],
      [["frobnicate"], /^intentql: unknown command "frobnicate": use .* \(see intentql --help\)$/],
      [["--foo"], /^intentql: unknown flag --foo \(see intentql --help\)$/],
      [
        ["keys"],
        /^intentql keys: a subcommand is needed: create, list, revoke or bootstrap \(see intentql keys --help\)$/,
      ],
      [["keys", "rotate"], /^intentql keys: no subcommand "rotate": use create, list, revoke or bootstrap/],
      [
        ["predict", "data.jsonl"],
        /^intentql predict: unexpected argument "data.jsonl": intentql predict takes no arguments/,
      ],
      [["classify"], /^intentql classify: give at least one TEXT: /],
      [["keys", "revoke"], /^intentql keys revoke: give one ID\|KEY: /],
    ] as const) {
      const r = await run(...argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.stderr.trimEnd()).toMatch(message);
    }
    expect(names).toEqual(expect.arrayContaining(["predict", "eval", "keys"]));
    const real = bin("predict", "--variant", "fp64");
    expect(real.code).toBe(2);
    expect(real.stderr).toMatch(/--variant must be one of/);
  });
});

function reEscape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

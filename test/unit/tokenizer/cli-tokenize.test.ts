import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));

function tokenize(args: string[], stdin: string) {
  const result = spawnSync(process.execPath, ["cli/bin/intentql.js", "tokenize", ...args], {
    cwd: REPO,
    input: stdin,
    encoding: "utf8",
  });
  return {
    code: result.status,
    lines: result.stdout.split("\n").filter((line) => line !== ""),
    stderr: result.stderr,
  };
}

const tinyVocab = [
  "[PAD]",
  "[UNK]",
  "[CLS]",
  "[SEP]",
  "[MASK]",
  "play",
  "music",
  "##s",
  "[",
  "]",
  "mask",
  ".",
].join("\n");

describe("intentql tokenize", () => {
  const dir = mkdtempSync(join(tmpdir(), "intentql-tokenize-"));
  const vocabPath = join(dir, "vocab.txt");
  writeFileSync(vocabPath, `${tinyVocab}\n`);

  it("writes one {ids} line per input line, in order", () => {
    const input = [
      '{"text":"play musics"}',
      '{"text":"PLAY [MASK]."}',
      '{"text":""}',
      '{"text":"jazz"}',
    ].join("\n");
    const out = tokenize(["--vocab", vocabPath], `${input}\n`);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(out.lines.map((line) => JSON.parse(line))).toEqual([
      { ids: [2, 5, 6, 7, 3] },
      { ids: [2, 5, 8, 10, 9, 11, 3] },
      { ids: [2, 3] },
      { ids: [2, 1, 3] },
    ]);
  });

  it("uses the built-in bert-base-uncased vocab", () => {
    const out = tokenize(["--vocab", "bert-base-uncased"], '{"text":"Hello World"}\n');
    expect(out.code).toBe(0);
    expect(out.lines).toEqual(['{"ids":[101,7592,2088,102]}']);
  });

  it("truncates to --max-length the way Hugging Face does", () => {
    const out = tokenize(
      ["--vocab", "bert-base-uncased", "--max-length", "8"],
      `${JSON.stringify({ text: "a b c d e f g h i j" })}\n`,
    );
    expect(out.code).toBe(0);
    expect(JSON.parse(out.lines[0]!)).toEqual({ ids: [101, 1037, 1038, 1039, 1040, 1041, 1042, 102] });
  });

  it("reports bad lines on stderr by number, keeps line alignment, and exits 1", () => {
    const input = [
      '{"text":"play"}',
      "not json",
      '{"txt":"play"}',
      '{"text":42}',
      "[1]",
      '{"text":"music"}',
    ].join("\n");
    const out = tokenize(["--vocab", vocabPath], `${input}\n`);
    expect(out.code).toBe(1);
    expect(out.lines).toHaveLength(6);
    expect(JSON.parse(out.lines[0]!)).toEqual({ ids: [2, 5, 3] });
    for (const index of [1, 2, 3, 4]) expect(JSON.parse(out.lines[index]!)).toHaveProperty("error");
    expect(JSON.parse(out.lines[5]!)).toEqual({ ids: [2, 6, 3] });
    for (const number of [2, 3, 4, 5]) expect(out.stderr).toContain(`line ${number}:`);
    expect(out.stderr).not.toContain("line 1:");
  });

  it("fails with a usage error for a missing or unreadable vocab and bad flags", () => {
    expect(tokenize([], "").code).toBe(2);
    expect(tokenize(["--vocab", join(dir, "missing.txt")], "").code).toBe(2);
    expect(tokenize(["--vocab", vocabPath, "--max-length", "1"], "").code).toBe(2);
    expect(tokenize(["--vocab", vocabPath, "--bogus", "x"], "").stderr).toContain("unknown flag --bogus");
  });

  it("explains a vocab without the special tokens", () => {
    const bad = join(dir, "bad.txt");
    writeFileSync(bad, "hello\n");
    const out = tokenize(["--vocab", bad], '{"text":"x"}\n');
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("[PAD]");
  });
});

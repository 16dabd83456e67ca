/**
 * A clone is all a user has: no tracked file may point at a folder beside the checkout, and what
 * the tests, benchmarks and docs read (MASSIVE, the protocol spec) is committed with its licence.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../..");
const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" })
  .split("\0")
  .filter((f) => f !== "");

describe("the repository is self-contained", () => {
  it("no tracked file refers to the team's shared folder beside the checkout", () => {
    const needle = ["..", "shared"].join("/"); // spelled apart so this file does not match itself
    const offenders = tracked.filter((file) => {
      const bytes = readFileSync(resolve(ROOT, file));
      return !bytes.subarray(0, 8000).includes(0) && bytes.toString("utf8").includes(needle);
    });
    expect(offenders).toEqual([]);
  });

  it("carries MASSIVE en-US (train, validation, test) with its CC BY 4.0 notice and citation", () => {
    const counts = { train: 11_514, validation: 2_033, test: 2_974 };
    for (const [split, n] of Object.entries(counts)) {
      const lines = readFileSync(resolve(ROOT, `data/massive-en/${split}.jsonl`), "utf8")
        .trim()
        .split("\n");
      expect(lines, split).toHaveLength(n);
      expect(Object.keys(JSON.parse(lines[0]!)).sort()).toEqual(["id", "label", "label_text", "text"]);
    }
    const readme = readFileSync(resolve(ROOT, "data/massive-en/README.md"), "utf8");
    expect(readme).toMatch(/CC BY 4\.0/);
    expect(readme).toMatch(/arXiv:2204\.08582/);
  });

  it("carries the Open Inference Protocol spec with its Apache-2.0 notice", () => {
    const spec = readFileSync(
      resolve(ROOT, "docs/specs/open-inference-protocol/open_inference_rest.yaml"),
      "utf8",
    );
    expect(spec).toMatch(/openapi: 3\./);
    expect(readFileSync(resolve(ROOT, "docs/specs/open-inference-protocol/README.md"), "utf8")).toMatch(
      /Apache License, Version 2\.0/,
    );
  });
});

/**
 * A second model for tests: `intentql train` on the custom-intents example (data/custom-example,
 * 8 intents), through the bin, into `out`. Seconds on a CPU; throws with the CLI's stderr on failure.
 */
import { spawnSync } from "node:child_process";

export function trainExampleModel(out: string, ...extraArgs: string[]): void {
  const trained = spawnSync(
    process.execPath,
    ["cli/bin/intentql.js", "train", "--data", "data/custom-example/train.jsonl", "--out", out, ...extraArgs],
    { encoding: "utf8" },
  );
  if (trained.status !== 0) throw new Error(`intentql train failed: ${trained.stderr}`);
}

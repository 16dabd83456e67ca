import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../../..");
const bundle = JSON.parse(readFileSync(join(ROOT, "models/massive-scratch/bundle.json"), "utf8"));
const labels = JSON.parse(readFileSync(join(ROOT, "models/massive-scratch/labels.json"), "utf8"));
const config = readFileSync(join(ROOT, "infra/triton/massive-scratch/config.pbtxt"), "utf8").replace(
  /#.*$/gm,
  "",
);

/** `{ name: "x" data_type: T dims: [ … ] }` entries of an input/output list (pbtxt text format). */
function tensors(section: "input" | "output") {
  const body = new RegExp(String.raw`\b${section}\s*\[([\s\S]*?)\n\]`).exec(config)?.[1] ?? "";
  return [...body.matchAll(/name:\s*"([^"]+)"\s*data_type:\s*(TYPE_\w+)\s*dims:\s*\[([^\]]*)\]/g)].map(
    (m) => ({
      name: m[1],
      dataType: m[2],
      dims: m[3]!.split(",").map((d) => Number(d.trim())),
    }),
  );
}

const TYPE = { INT64: "TYPE_INT64", FP32: "TYPE_FP32", FP16: "TYPE_FP16" } as Record<string, string>;

describe("infra/triton/massive-scratch/config.pbtxt", () => {
  it("names the model like the bundle and uses the onnxruntime backend", () => {
    expect(config).toMatch(new RegExp(`name:\\s*"${bundle.name}"`));
    expect(config).toMatch(/backend:\s*"onnxruntime"/);
  });

  it("declares the bundle's inputs and outputs (batch dimension implicit)", () => {
    const expect_ = (list: { name: string; datatype: string; shape: number[] }[]) =>
      list.map((t) => ({ name: t.name, dataType: TYPE[t.datatype], dims: t.shape.slice(1) }));
    expect(tensors("input")).toEqual(expect_(bundle.inputs));
    expect(tensors("output")).toEqual(expect_(bundle.outputs));
    expect(tensors("output")[0]!.dims).toEqual([labels.length]);
  });

  it("carries the bundle's vocab and labels sha256, which the edge verifies before using Triton", () => {
    const param = (key: string) =>
      new RegExp(String.raw`key:\s*"${key}"\s*value:\s*\{\s*string_value:\s*"([0-9a-f]{64})"`).exec(
        config,
      )?.[1];
    expect(param("intentql_vocab_sha256")).toBe(bundle.tokenizer.vocabSha256);
    expect(param("intentql_labels_sha256")).toBe(bundle.labels.sha256);
  });

  it("batches dynamically on the GPU with a bounded queue delay", () => {
    const maxBatch = Number(/max_batch_size:\s*(\d+)/.exec(config)?.[1]);
    expect(maxBatch).toBeGreaterThanOrEqual(256);
    const delay = Number(/max_queue_delay_microseconds:\s*(\d+)/.exec(config)?.[1]);
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThanOrEqual(10_000);
    const preferred = /preferred_batch_size:\s*\[([^\]]*)\]/.exec(config)?.[1]?.split(",").map(Number) ?? [];
    expect(preferred.length).toBeGreaterThan(0);
    expect(preferred.every((n) => n <= maxBatch)).toBe(true);
    expect(config).toMatch(/kind:\s*KIND_GPU/);
  });

  it("the model file is copied from the bundle, not committed (prepare.sh + .gitignore)", () => {
    expect(readFileSync(join(ROOT, "infra/triton/.gitignore"), "utf8")).toMatch(/^\*\/1\/model\.onnx$/m);
    const prepare = readFileSync(join(ROOT, "infra/triton/prepare.sh"), "utf8");
    expect(prepare).toMatch(/variant="\$\{3:-fp16\}"/);
    expect(prepare).toMatch(/sha256sum/);
    expect(bundle.variants.fp16.file).toBe("model.fp16.onnx");
  });
});

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
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

/** `parameters { key: "k" value: "v" }` of the `name: "tensorrt"` GPU execution accelerator. */
function tensorrtParams(): Record<string, string> {
  const block = /gpu_execution_accelerator\s*:\s*\[\s*\{\s*name:\s*"tensorrt"([\s\S]*?)\n\s*\}\s*\]/.exec(
    config,
  )?.[1];
  if (block === undefined) return {};
  return Object.fromEntries(
    [...block.matchAll(/parameters\s*\{\s*key:\s*"([^"]+)"\s*value:\s*"([^"]*)"\s*\}/g)].map((m) => [
      m[1]!,
      m[2]!,
    ]),
  );
}

/** ONNX Runtime's TensorRT profile format: "input1:d0xd1...,input2:d0xd1...". Throws when malformed. */
function parseProfileShapes(spec: string): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const entry of spec.split(",")) {
    const m = /^([A-Za-z_][\w.]*):(\d+(?:x\d+)*)$/.exec(entry.trim());
    if (!m) throw new Error(`malformed profile entry "${entry}" in "${spec}"`);
    if (shapes.has(m[1]!)) throw new Error(`input ${m[1]} listed twice in "${spec}"`);
    shapes.set(m[1]!, m[2]!.split("x").map(Number));
  }
  return shapes;
}

/**
 * What is wrong with a TensorRT optimisation profile for inputs of shape [batch, sequence]: every input
 * listed in min, opt and max (ONNX Runtime requires all dynamic inputs), min ≤ opt ≤ max per
 * dimension, the range covering batch 1..maxBatch and sequence 1..maxLength, and the same shapes for
 * every input (they always arrive together as [B,S]). Empty when the profile is right.
 */
function profileProblems(
  profile: { min: string; opt: string; max: string },
  want: { inputs: readonly string[]; maxBatch: number; maxLength: number },
): string[] {
  const problems: string[] = [];
  const parsed = {} as Record<"min" | "opt" | "max", Map<string, number[]>>;
  for (const kind of ["min", "opt", "max"] as const) {
    try {
      parsed[kind] = parseProfileShapes(profile[kind]);
    } catch (e) {
      problems.push(`${kind}: ${(e as Error).message}`);
      continue;
    }
    const names = [...parsed[kind].keys()].sort();
    if (names.join() !== [...want.inputs].sort().join())
      problems.push(`${kind} lists [${names}], the model's inputs are [${[...want.inputs].sort()}]`);
    for (const [name, dims] of parsed[kind])
      if (dims.length !== 2 || dims.some((d) => d < 1))
        problems.push(`${kind} ${name}: ${dims.join("x")} is not a [batch, sequence] shape of sizes ≥ 1`);
  }
  if (problems.length > 0) return problems;
  const shape = (kind: "min" | "opt" | "max", name: string) => parsed[kind].get(name)!;
  for (const name of want.inputs) {
    const [min, opt, max] = [shape("min", name), shape("opt", name), shape("max", name)];
    ["batch", "sequence"].forEach((dim, i) => {
      if (!(min[i]! <= opt[i]! && opt[i]! <= max[i]!))
        problems.push(`${name} ${dim}: not min ${min[i]} ≤ opt ${opt[i]} ≤ max ${max[i]}`);
    });
    if (min[0]! > 1) problems.push(`${name}: min batch ${min[0]} > 1`);
    if (min[1]! > 1) problems.push(`${name}: min sequence ${min[1]} > 1`);
    if (max[0]! < want.maxBatch)
      problems.push(`${name}: max batch ${max[0]} < max_batch_size ${want.maxBatch}`);
    if (max[1]! < want.maxLength)
      problems.push(`${name}: max sequence ${max[1]} < maxLength ${want.maxLength}`);
  }
  for (const kind of ["min", "opt", "max"] as const) {
    const distinct = new Set(want.inputs.map((name) => shape(kind, name).join("x")));
    if (distinct.size > 1) problems.push(`${kind}: the inputs have different shapes (${[...distinct]})`);
  }
  return problems;
}

/** Whether an ONNX file names the com.microsoft op domain (opset_import or node domain): the domain is a
 *  plain protobuf string, so an op of that domain always leaves these bytes in the file. */
const hasMicrosoftDomain = (file: string) => readFileSync(file).includes("com.microsoft");

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
    expect(prepare).toMatch(/sha256sum/);
  });
});

describe("Triton serves the fp32 variant, run by TensorRT in FP16", () => {
  const maxBatch = Number(/max_batch_size:\s*(\d+)/.exec(config)?.[1]);
  const trt = tensorrtParams();
  const modelDir = join(ROOT, "models/massive-scratch");

  it("prepare.sh copies the fp32 variant by default, a graph free of com.microsoft ops", () => {
    const prepare = readFileSync(join(ROOT, "infra/triton/prepare.sh"), "utf8");
    expect(prepare).toMatch(/variant="\$\{3:-fp32\}"/);
    expect(bundle.variants.fp32.file).toBe("model.onnx");
    expect(hasMicrosoftDomain(join(modelDir, bundle.variants.fp32.file))).toBe(false);
    // The byte check can fire: the fp16 variant was fused into onnxruntime-only ops.
    expect(Object.keys(bundle.variants.fp16.fusedOperators)).toContain("SkipLayerNormalization");
    expect(hasMicrosoftDomain(join(modelDir, bundle.variants.fp16.file))).toBe(true);
  });

  it("enables TensorRT in FP16 precision", () => {
    expect(trt.precision_mode).toBe("FP16");
  });

  it("gives TensorRT one profile over batch 1..max_batch_size and sequence 1..maxLength for both inputs", () => {
    expect(maxBatch).toBe(1024);
    expect(bundle.maxLength).toBe(128);
    for (const key of ["trt_profile_min_shapes", "trt_profile_opt_shapes", "trt_profile_max_shapes"])
      expect(trt[key], key).toBeTypeOf("string");
    const profile = {
      min: trt.trt_profile_min_shapes!,
      opt: trt.trt_profile_opt_shapes!,
      max: trt.trt_profile_max_shapes!,
    };
    const inputs = bundle.inputs.map((t: { name: string }) => t.name);
    expect(inputs).toEqual(["input_ids", "attention_mask"]);
    expect(profileProblems(profile, { inputs, maxBatch, maxLength: bundle.maxLength })).toEqual([]);
    expect(parseProfileShapes(profile.min).get("input_ids")).toEqual([1, 1]);
    expect(parseProfileShapes(profile.max).get("attention_mask")).toEqual([maxBatch, bundle.maxLength]);
  });

  it("the profile check flags bad profiles", () => {
    const want = { inputs: ["input_ids", "attention_mask"], maxBatch: 1024, maxLength: 128 };
    const ok = {
      min: "input_ids:1x1,attention_mask:1x1",
      opt: "input_ids:256x32,attention_mask:256x32",
      max: "input_ids:1024x128,attention_mask:1024x128",
    };
    expect(profileProblems(ok, want)).toEqual([]);
    // opt above max
    expect(
      profileProblems({ ...ok, opt: "input_ids:2048x32,attention_mask:2048x32" }, want).join("\n"),
    ).toMatch(/input_ids batch: not min 1 ≤ opt 2048 ≤ max 1024/);
    // an input left out
    expect(profileProblems({ ...ok, max: "input_ids:1024x128" }, want).join("\n")).toMatch(
      /max lists \[input_ids\]/,
    );
    // range short of maxLength, and not starting at batch 1
    expect(
      profileProblems(
        { ...ok, min: "input_ids:8x1,attention_mask:8x1", max: "input_ids:1024x64,attention_mask:1024x64" },
        want,
      ).join("\n"),
    ).toMatch(/min batch 8 > 1[\s\S]*max sequence 64 < maxLength 128/);
    // inputs that disagree, and a malformed entry
    expect(
      profileProblems({ ...ok, opt: "input_ids:256x32,attention_mask:256x16" }, want).join("\n"),
    ).toMatch(/opt: the inputs have different shapes/);
    expect(profileProblems({ ...ok, min: "input_ids:1,1" }, want).join("\n")).toMatch(/malformed/);
  });

  it("caches engines on their own writable path, not under the read-only /models", () => {
    const underModels = (p: string) => p === "/models" || p.startsWith("/models/");
    expect(trt.trt_engine_cache_enable).toMatch(/^(true|1)$/);
    expect(trt.trt_timing_cache_enable).toMatch(/^(true|1)$/);
    for (const key of ["trt_engine_cache_path", "trt_timing_cache_path"]) {
      expect(trt[key], key).toMatch(/^\/[\w./-]+$/);
      expect(underModels(trt[key]!), `${key} ${trt[key]}`).toBe(false);
    }
    expect(underModels("/models/massive-scratch/trt-cache")).toBe(true);
    // The README's docker run mounts the repository read-only and the cache read-write.
    const readme = readFileSync(join(ROOT, "infra/triton/README.md"), "utf8");
    const run = /docker run(?:[^\n]*\\\n)*[^\n]*/.exec(readme)?.[0] ?? "";
    const mounts = [...run.matchAll(/-v\s+"?([^\s"]+)"?/g)].map((m) => m[1]!.split(":").slice(1));
    expect(mounts).toContainEqual(["/models", "ro"]);
    expect(mounts).toContainEqual([trt.trt_engine_cache_path]);
  });

  it("prepare.sh refuses a com.microsoft graph while TensorRT is on, and copies the fp32 one", () => {
    const repo = mkdtempSync(join(tmpdir(), "triton-repo-"));
    try {
      mkdirSync(join(repo, bundle.name));
      cpSync(
        join(ROOT, "infra/triton/massive-scratch/config.pbtxt"),
        join(repo, bundle.name, "config.pbtxt"),
      );
      const prepare = (...variant: string[]) =>
        spawnSync("bash", [join(ROOT, "infra/triton/prepare.sh"), modelDir, repo, ...variant], {
          cwd: ROOT,
          encoding: "utf8",
          env: { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}` },
        });
      const copied = join(repo, bundle.name, "1/model.onnx");

      const fp16 = prepare("fp16");
      expect(fp16.status, fp16.stderr).toBe(1);
      expect(fp16.stderr).toMatch(/com\.microsoft/);
      expect(existsSync(copied)).toBe(false);

      const fp32 = prepare();
      expect(fp32.status, fp32.stderr).toBe(0);
      expect(createHash("sha256").update(readFileSync(copied)).digest("hex")).toBe(
        bundle.variants.fp32.sha256,
      );
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
});

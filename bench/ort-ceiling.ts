/**
 * The raw onnxruntime-node ceiling for a bundle: one session, no HTTP, no batcher, the same
 * execution provider and variant gpu-service uses, runs back to back at fixed batch sizes of
 * MASSIVE-like rows padded to one length (the service pads each run to its longest row, a multiple
 * of 8: rows of 6-20 tokens give 24). What gpu-service through HTTP is compared against.
 * Bundled to dist/ort-ceiling.mjs for the GPU host (onnxruntime-node through NODE_PATH).
 *
 *   node dist/ort-ceiling.mjs --bundle DIR [--device cuda] [--variant fp16] [--batches 256,1024]
 *     [--seq 24] [--seconds 10] [--model FILE [--int32]]
 *
 * Prints one JSON line per batch size: texts/s, runs, mean ms per run.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type * as Ort from "onnxruntime-node";

const ort = createRequire(import.meta.url)("onnxruntime-node") as typeof Ort;

const { values } = parseArgs({
  options: {
    bundle: { type: "string" },
    device: { type: "string", default: "cuda" },
    variant: { type: "string", default: "fp16" },
    batches: { type: "string", default: "256,1024" },
    seq: { type: "string", default: "24" },
    seconds: { type: "string", default: "10" },
    label: { type: "string", default: "ceiling" },
    // Another model file with the bundle's inputs (e.g. gpu-service-export.py's int32 copy).
    model: { type: "string" },
    int32: { type: "boolean", default: false },
    // Instead of fixed batches: N runs of random shapes (1-256 rows, 6-20 tokens), to compare the
    // time of a shape's first run with that of a shape already seen.
    varied: { type: "string" },
  },
});
if (!values.bundle) throw new Error("--bundle DIR is required");
const manifest = JSON.parse(readFileSync(join(values.bundle, "bundle.json"), "utf8")) as {
  variants: Record<string, { file: string }>;
  tokenizer: { vocabSize: number };
};
const variant = manifest.variants[values.variant!];
if (!variant) throw new Error(`bundle has no variant ${values.variant}`);
const session = await ort.InferenceSession.create(values.model ?? join(values.bundle, variant.file), {
  executionProviders: [values.device as "cuda" | "cpu"],
  graphOptimizationLevel: "all",
});
if (values.varied !== undefined) {
  const seen = new Set<string>();
  const first: number[] = [];
  const again: number[] = [];
  const random = (n: number) => Math.floor(Math.random() * n);
  for (let i = 0; i < Number(values.varied); i++) {
    const rows = 1 + random(256);
    const length = 6 + random(15);
    const ids = new BigInt64Array(rows * length).fill(7n);
    const mask = new BigInt64Array(rows * length).fill(1n);
    const feeds = {
      input_ids: new ort.Tensor("int64", ids, [rows, length]),
      attention_mask: new ort.Tensor("int64", mask, [rows, length]),
    };
    const t0 = performance.now();
    await session.run(feeds);
    const ms = performance.now() - t0;
    const key = `${rows}x${length}`;
    (seen.has(key) ? again : first).push(ms);
    seen.add(key);
  }
  const median = (xs: number[]) => (xs.length ? xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : 0);
  process.stdout.write(
    `${JSON.stringify({ step: `${values.label}_varied`, runs: Number(values.varied), distinctShapes: seen.size, firstRunMsMedian: +median(first).toFixed(3), repeatRunMsMedian: +median(again).toFixed(3), repeats: again.length })}\n`,
  );
  process.exit(0);
}
const seq = Number(values.seq);
const seconds = Number(values.seconds);

for (const rows of values.batches!.split(",").map(Number)) {
  const ids = new BigInt64Array(rows * seq);
  const mask = new BigInt64Array(rows * seq);
  for (let r = 0; r < rows; r++) {
    const length = 6 + ((r * 7) % 15); // 6-20 tokens, like the load generator's rows
    ids[r * seq] = 2n;
    for (let s = 1; s < length - 1; s++)
      ids[r * seq + s] = BigInt(5 + ((r * 131 + s * 17) % (manifest.tokenizer.vocabSize - 5)));
    ids[r * seq + length - 1] = 3n;
    mask.fill(1n, r * seq, r * seq + length);
  }
  const feeds = values.int32
    ? {
        input_ids: new ort.Tensor("int32", Int32Array.from(ids, Number), [rows, seq]),
        attention_mask: new ort.Tensor("int32", Int32Array.from(mask, Number), [rows, seq]),
      }
    : {
        input_ids: new ort.Tensor("int64", ids, [rows, seq]),
        attention_mask: new ort.Tensor("int64", mask, [rows, seq]),
      };
  for (let i = 0; i < 5; i++) await session.run(feeds); // warm-up
  let runs = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    await session.run(feeds);
    runs++;
  }
  const elapsed = (performance.now() - started) / 1000;
  process.stdout.write(
    `${JSON.stringify({
      step: `${values.label}_b${rows}`,
      device: values.device,
      variant: values.variant,
      inputs: values.int32 ? "int32" : "int64",
      rows,
      seq,
      runs,
      textsPerSec: Math.round((runs * rows) / elapsed),
      msPerRun: +((elapsed * 1000) / runs).toFixed(3),
    })}\n`,
  );
}
await session.release();

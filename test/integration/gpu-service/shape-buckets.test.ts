/**
 * --shape-buckets on (the default on CUDA, forced here on CPU): every bucket shape runs once at
 * warm-up, runs are padded to the buckets, and a text's logits do not change for it. The same for
 * runs split in two by length (--min-split-rows).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bucketShapes, shapeBuckets } from "../../../gpu-service/src/core/shape-buckets.ts";
import { type GpuServiceHandle, startGpuService } from "../../support/gpu-service.ts";
import { postBinary } from "./client.ts";

const BINARY = { header: { parameters: { binary_data_output: true } } };
const TEXTS = ["wake me up at seven", "what's the weather tomorrow in paris", "play jazz", "lights off"];

describe("gpu-service --shape-buckets on", () => {
  let bucketed: GpuServiceHandle;
  let plain: GpuServiceHandle;
  const args = [
    "--variant",
    "fp32",
    "--max-batch-size",
    "8",
    "--max-batch-tokens",
    "1024",
    "--intra-op-threads",
    "1",
  ];
  beforeAll(async () => {
    [bucketed, plain] = await Promise.all([
      startGpuService({ args: [...args, "--shape-buckets", "on", "--min-split-rows", "4"] }),
      startGpuService({ args: [...args, "--shape-buckets", "off", "--min-split-rows", "0"] }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([bucketed?.stop(), plain?.stop()]);
  });

  it("warms up every bucket shape before it reports ready", () => {
    const loaded = bucketed.logs.map((l) => JSON.parse(l)).find((e) => e.event === "model_loaded");
    expect(loaded.warmupRuns).toBe(bucketShapes(shapeBuckets(8, 128), 1024).length);
    const plainLoaded = plain.logs.map((l) => JSON.parse(l)).find((e) => e.event === "model_loaded");
    expect(plainLoaded.warmupRuns).toBeLessThan(loaded.warmupRuns);
  });

  /** Both services answer `texts` with the same logits (within fp32 rounding). */
  const expectSameLogits = async (texts: string[]) => {
    const [a, b] = await Promise.all([
      postBinary(bucketed.url, texts, BINARY),
      postBinary(plain.url, texts, BINARY),
    ]);
    expect(a.status).toBe(200);
    expect(a.header.outputs[0]!.shape).toEqual([texts.length, 60]);
    const x = Array.from(a.logits!);
    const y = Array.from(b.logits!);
    expect(x).toHaveLength(y.length);
    for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThan(1e-4);
  };

  it("pads runs to the buckets without changing any text's logits", async () => {
    // 5 texts → a run of 6 rows (one dummy), lengths padded to the next length bucket.
    await expectSameLogits([...TEXTS, "set a timer for ten minutes please"]);
    const metrics = await (await fetch(`${bucketed.url}/metrics`)).text();
    // rows counted are the real ones, not the dummies
    expect(metrics).toMatch(/^intentql_rows_total\{model="massive-scratch"\} 5$/m);
  });

  it("splits a run of short and long texts in two by length without changing any text's logits", async () => {
    const long = "please set an alarm for seven thirty tomorrow morning and remind me to call my mother";
    const texts = ["play jazz", long, "lights off", `${long} again`, "stop", `${long} now`, "hello", long];
    const before = await (await fetch(`${bucketed.url}/metrics`)).text();
    await expectSameLogits(texts);
    const splitRuns = (text: string): number =>
      Number(/^intentql_split_runs_total\{model="massive-scratch"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    const after = await (await fetch(`${bucketed.url}/metrics`)).text();
    expect(splitRuns(after) - splitRuns(before)).toBe(1);
    const plainMetrics = await (await fetch(`${plain.url}/metrics`)).text();
    expect(splitRuns(plainMetrics)).toBe(0);
  });
});

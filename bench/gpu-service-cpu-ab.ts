/**
 * gpu-service on this machine's CPU, two checkouts side by side (A/B, interleaved rounds, medians):
 * texts/s at saturation, and how long GET /v2/health/live takes while the model is saturated (the
 * question: does a model run still block the HTTP event loop?). Driven by bench/gpu-service-ab.sh,
 * which makes the base checkout; usable alone:
 *
 *   node --import tsx bench/gpu-service-cpu-ab.ts --root A_DIR --root B_DIR [--rounds 3] [--seconds 6]
 *     [--flags="A's extra service flags" --flags="B's"]
 *
 * With --flags (one per --root, in the same order), the same checkout can be compared with itself
 * under other service flags: `--root . --root . --flags= --flags="--intra-op-threads 1"`.
 *
 * Load: 64 closed-loop clients × 8 MASSIVE-like texts in 2 child processes (bench/gpu-service-load.ts);
 * this process only probes /v2/health/live every 10 ms, so its own event loop is idle.
 * Each service: fp32 (the CPU variant whose answers do not depend on batch mates), batch 256, token auth.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { startGpuService } from "../test/support/gpu-service.ts";
import { median, percentile, runLoadProcesses, scrapeBatches } from "./gpu-service-load.ts";

const { values } = parseArgs({
  options: {
    root: { type: "string", multiple: true },
    flags: { type: "string", multiple: true },
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "6" },
  },
});
const flags = values.flags ?? [];
const roots = (values.root ?? []).map((r, i) => ({
  root: resolve(r),
  flags: (flags[i] ?? "").split(" ").filter((f) => f !== ""),
  label: flags[i] ? `${resolve(r)} ${flags[i]}` : resolve(r),
}));
if (roots.length === 0) throw new Error("give --root DIR at least once");
if (flags.length > 0 && flags.length !== roots.length) throw new Error("give one --flags per --root");
const TOKEN = "bench-cpu-ab-token-0123456789abcdef";
const LOAD_ENTRY = resolve(import.meta.dirname, "gpu-service-load.ts");

async function probe(url: string, untilMs: number): Promise<number[]> {
  const latencies: number[] = [];
  while (performance.now() < untilMs) {
    const t = performance.now();
    const res = await fetch(`${url}/v2/health/live`);
    await res.arrayBuffer();
    latencies.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 10));
  }
  return latencies.sort((a, b) => a - b);
}

const seconds = Number(values.seconds);
const results = new Map<
  string,
  { textsPerSec: number; liveP50: number; liveP99: number; liveMax: number; rowsPerRun: number }[]
>(roots.map((r) => [r.label, []]));
for (let round = 0; round < Number(values.rounds); round++) {
  for (const { root, flags: extra, label } of roots) {
    const service = await startGpuService({
      root,
      authToken: TOKEN,
      args: ["--variant", "fp32", "--max-batch-size", "256", ...extra],
    });
    try {
      const load = runLoadProcesses(
        {
          url: service.url,
          model: "massive-scratch",
          concurrency: 64,
          textsPerRequest: 8,
          seconds,
          warmupSeconds: 2,
          token: TOKEN,
          vocabSize: 6000,
        },
        2,
        LOAD_ENTRY,
      );
      await new Promise((r) => setTimeout(r, 2500)); // past the warm-up: saturated from here
      const before = await scrapeBatches(service.url);
      const live = await probe(service.url, performance.now() + (seconds - 1) * 1000);
      const after = await scrapeBatches(service.url);
      const saturation = await load;
      const sample = {
        textsPerSec: saturation.textsPerSec,
        liveP50: percentile(live, 50),
        liveP99: percentile(live, 99),
        liveMax: live.at(-1)!,
        rowsPerRun: (after.rows - before.rows) / Math.max(1, after.runs - before.runs),
      };
      results.get(label)!.push(sample);
      process.stdout.write(
        `${JSON.stringify({ round: round + 1, root: label, errors: saturation.errors, ...sample })}\n`,
      );
    } finally {
      await service.stop();
    }
  }
}

for (const [root, samples] of results)
  process.stdout.write(
    `${JSON.stringify({
      summary: root,
      textsPerSec: Math.round(median(samples.map((s) => s.textsPerSec))),
      liveP50Ms: +median(samples.map((s) => s.liveP50)).toFixed(2),
      liveP99Ms: +median(samples.map((s) => s.liveP99)).toFixed(2),
      liveMaxMs: +median(samples.map((s) => s.liveMax)).toFixed(2),
      rowsPerRun: +median(samples.map((s) => s.rowsPerRun)).toFixed(1),
    })}\n`,
  );

/**
 * gpu-service on this machine's CPU: int8 vs fp32 (and int8 with a 1 ms queue delay, to check the
 * "no wait when idle" policy), side by side, interleaved over rounds; medians reported.
 *
 *   node --import tsx bench/gpu-service.bench.ts [--rounds 3] [--seconds 4]
 *
 * Per configuration: p50/p99 of one text per request at concurrency 1, and texts/s at saturation
 * with 64 concurrent clients of 8 texts each (MASSIVE-like rows, 6-20 tokens). The load generator
 * runs in this process and shares the CPU with the service: figures are for the pair.
 */
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { startGpuService } from "../test/support/gpu-service.ts";
import { type LoadResult, median, runLoad, scrapeBatches } from "./gpu-service-load.ts";

const { values } = parseArgs({
  options: { rounds: { type: "string", default: "3" }, seconds: { type: "string", default: "4" } },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);

const configs: { name: string; args: string[] }[] = [
  { name: "int8", args: ["--variant", "int8"] },
  { name: "fp32", args: ["--variant", "fp32"] },
  { name: "int8 delay 1ms", args: ["--variant", "int8", "--max-queue-delay-us", "1000"] },
];

type Sample = { latency: LoadResult; saturation: LoadResult; meanRowsPerRun: number };
const samples = new Map<string, Sample[]>(configs.map((c) => [c.name, []]));

for (let round = 0; round < rounds; round++) {
  for (const config of configs) {
    const service = await startGpuService({ args: [...config.args, "--max-batch-size", "256"] });
    try {
      const base = { url: service.url, model: "massive-scratch", vocabSize: 6000, warmupSeconds: 1, seconds };
      const latency = await runLoad({ ...base, concurrency: 1, textsPerRequest: 1 });
      const before = await scrapeBatches(service.url);
      const saturation = await runLoad({ ...base, concurrency: 64, textsPerRequest: 8 });
      const after = await scrapeBatches(service.url);
      const meanRowsPerRun = (after.rows - before.rows) / Math.max(1, after.runs - before.runs);
      samples.get(config.name)!.push({ latency, saturation, meanRowsPerRun });
      process.stderr.write(
        `round ${round + 1} ${config.name}: p50 ${latency.p50Ms.toFixed(2)} ms, ${saturation.textsPerSec.toFixed(0)} texts/s\n`,
      );
    } finally {
      await service.stop();
    }
  }
}

const table = configs.map((c) => {
  const s = samples.get(c.name)!;
  return {
    config: c.name,
    p50Ms: +median(s.map((x) => x.latency.p50Ms)).toFixed(2),
    p99Ms: +median(s.map((x) => x.latency.p99Ms)).toFixed(2),
    textsPerSec: Math.round(median(s.map((x) => x.saturation.textsPerSec))),
    saturationP50Ms: +median(s.map((x) => x.saturation.p50Ms)).toFixed(1),
    meanRowsPerRun: +median(s.map((x) => x.meanRowsPerRun)).toFixed(1),
    errors: s.reduce((a, x) => a + x.latency.errors + x.saturation.errors, 0),
  };
});
const int8 = table[0]!;
const fp32 = table[1]!;
console.log(
  JSON.stringify({
    machine: `${cpus().length}× ${cpus()[0]?.model ?? "cpu"}`,
    node: process.version,
    rounds,
    seconds,
    table,
    int8OverFp32Throughput: +(int8.textsPerSec / fp32.textsPerSec).toFixed(2),
    fp32OverInt8LatencyP50: +(fp32.p50Ms / int8.p50Ms).toFixed(2),
  }),
);

/**
 * The reliability report: every phase records its figures here, and the suite writes them to
 * test/artifacts/reliability.json (long mode) or reliability-short.json (short mode, `npm test`).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { resolve } from "node:path";

export type Mode = "short" | "long";

export function modeFromEnv(fallback: Mode = "long"): Mode {
  const value = process.env.RELIABILITY_MODE;
  if (value === undefined || value === "") return fallback;
  if (value !== "short" && value !== "long")
    throw new Error(`RELIABILITY_MODE must be short or long, got ${value}`);
  return value;
}

/** Every count and duration of the suite, by mode: loops are bounded by these. */
export interface Budget {
  /** autocannon seconds per concurrency level. */
  loadSeconds: number;
  concurrency: number[];
  overloadSeconds: number;
  /** Seconds of traffic before the kill, while gpu-service is down, and after recovery. */
  faultPhaseSeconds: number;
  slowSeconds: number;
  graphqlFuzzRuns: number;
  v2FuzzRuns: number;
}

export const BUDGETS: Record<Mode, Budget> = {
  short: {
    loadSeconds: 1.5,
    concurrency: [1, 8],
    overloadSeconds: 1.5,
    faultPhaseSeconds: 1,
    slowSeconds: 1,
    graphqlFuzzRuns: 300,
    v2FuzzRuns: 300,
  },
  long: {
    loadSeconds: 10,
    concurrency: [1, 8, 32, 128],
    overloadSeconds: 10,
    faultPhaseSeconds: 3,
    slowSeconds: 3,
    graphqlFuzzRuns: 10_000,
    v2FuzzRuns: 10_000,
  },
};

export class Report {
  readonly sections: Record<string, unknown> = {};
  readonly started = new Date();
  constructor(readonly mode: Mode) {}

  record(section: string, figures: unknown): void {
    this.sections[section] = figures;
  }

  write(): string {
    const dir = resolve(import.meta.dirname, "../../artifacts");
    mkdirSync(dir, { recursive: true });
    const file = resolve(dir, this.mode === "long" ? "reliability.json" : "reliability-short.json");
    const body = {
      mode: this.mode,
      started: this.started.toISOString(),
      finished: new Date().toISOString(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? "unknown",
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
      },
      budget: BUDGETS[this.mode],
      ...this.sections,
    };
    writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
    return file;
  }
}

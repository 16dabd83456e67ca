/** Closed-loop clients for fault phases: every request is timed and kept, so none can go unseen. */
import { CLASSIFY, type GqlAnswer, gql } from "./stack.ts";

export interface Sample {
  /** ms since the phase started */
  start: number;
  end: number;
  code: string;
  status: number;
  label: string | null;
}

export interface Traffic {
  samples: Sample[];
  /** Stops the clients and waits for the requests in flight. */
  stop(): Promise<Sample[]>;
  /** ms since the phase started. */
  now(): number;
}

/** `clients` loops posting one-text classify requests until stopped (or `maxMs` passes). */
export function startTraffic(opts: {
  url: string;
  key: string;
  clients: number;
  text: string;
  abortMs: number;
  maxMs: number;
}): Traffic {
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;
  const samples: Sample[] = [];
  let running = true;
  const loop = async (): Promise<void> => {
    while (running && now() < opts.maxMs) {
      const start = now();
      const a: GqlAnswer = await gql(opts.url, opts.key, CLASSIFY, { t: [opts.text] }, opts.abortMs);
      samples.push({
        start,
        end: now(),
        code: a.code,
        status: a.status,
        label: a.body?.data?.classify?.[0]?.intent?.name ?? null,
      });
    }
  };
  const loops = Array.from({ length: opts.clients }, loop);
  return {
    samples,
    now,
    async stop() {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function tally(samples: readonly Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) out[s.code] = (out[s.code] ?? 0) + 1;
  return out;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);
}

/** Answers that are neither a result nor a well-formed GraphQL error: what the client lost. */
export const LOST_CODES = ["CLIENT_ABORT", "NETWORK_ERROR", "NOT_JSON", "NO_CODE", "NO_DATA"];

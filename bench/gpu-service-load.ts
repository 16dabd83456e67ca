/**
 * Load generator for gpu-service: closed-loop clients over keep-alive HTTP, binary V2 requests of
 * MASSIVE-like rows (6-20 tokens with [CLS]/[SEP], random ids from the model's vocabulary).
 * Bundled to dist/gpu-load.mjs for the GPU host (no node_modules there).
 *
 *   node dist/gpu-load.mjs --url http://127.0.0.1:8500 --model NAME --concurrency 64 --texts 32 \
 *     --seconds 15 [--processes 4] [--token T] [--label NAME]
 *
 * Prints one JSON line: requests, texts, texts/s, p50/p90/p99 latency (ms), errors. With
 * --processes N, N child processes share the concurrency so the client is not the bottleneck.
 */

import { fork } from "node:child_process";
import { Agent, request } from "node:http";
import { parseArgs } from "node:util";
import { encodeBinaryMessage, HEADER_LENGTH, type InferRequestHeader, typedBytes } from "@intentql/schema";
import { mulberry32 } from "../test/support/prng.ts";

export interface LoadOptions {
  url: string;
  model: string;
  concurrency: number;
  textsPerRequest: number;
  seconds: number;
  token?: string;
  vocabSize: number;
  /** Warm-up before measuring, in seconds. */
  warmupSeconds?: number;
  seed?: number;
}

export interface LoadResult {
  requests: number;
  texts: number;
  seconds: number;
  textsPerSec: number;
  requestsPerSec: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  errors: number;
  errorSample?: string;
  latenciesMs?: number[] | Float64Array;
}

/** Pre-encoded request bodies: `count` bodies of `texts` rows each, lengths 6-20 tokens. */
export function makeBodies(count: number, texts: number, vocabSize: number, seed = 1) {
  const rand = mulberry32(seed);
  const bodies: { body: Uint8Array; headerLength: number }[] = [];
  for (let b = 0; b < count; b++) {
    const lengths = Array.from({ length: texts }, () => 6 + Math.floor(rand() * 15));
    const seq = Math.max(...lengths);
    const ids = new BigInt64Array(texts * seq);
    const mask = new BigInt64Array(texts * seq);
    lengths.forEach((len, r) => {
      ids[r * seq] = 2n; // [CLS]
      for (let s = 1; s < len - 1; s++) ids[r * seq + s] = BigInt(5 + Math.floor(rand() * (vocabSize - 5)));
      ids[r * seq + len - 1] = 3n; // [SEP]
      mask.fill(1n, r * seq, r * seq + len);
    });
    const shape = [texts, seq];
    bodies.push(
      encodeBinaryMessage<InferRequestHeader>({ parameters: { binary_data_output: true } }, "inputs", [
        { name: "input_ids", datatype: "INT64", shape, bytes: typedBytes(ids) },
        { name: "attention_mask", datatype: "INT64", shape, bytes: typedBytes(mask) },
      ]),
    );
  }
  return bodies;
}

/** The median of interleaved rounds (upper middle for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Rows and runs the service has batched so far (its /metrics): deltas give rows per run. */
export async function scrapeBatches(url: string): Promise<{ rows: number; runs: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const get = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
  return { rows: get("intentql_batch_rows_sum"), runs: get("intentql_batch_rows_count") };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function post(
  agent: Agent,
  url: URL,
  path: string,
  body: Uint8Array,
  headers: Record<string, string>,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path, method: "POST", headers },
      (res) => {
        res.on("data", () => undefined);
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Runs closed-loop clients for `seconds` (after a warm-up) in this process. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const url = new URL(opts.url);
  const path = `/v2/models/${encodeURIComponent(opts.model)}/infer`;
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const bodies = makeBodies(64, opts.textsPerRequest, opts.vocabSize, opts.seed ?? 1);
  const latencies: number[] = [];
  let errors = 0;
  let errorSample: string | undefined;
  let measuring = false;
  let stop = false;
  const client = async (k: number) => {
    let i = k;
    while (!stop) {
      const { body, headerLength } = bodies[i++ % bodies.length]!;
      const headers: Record<string, string> = {
        [HEADER_LENGTH]: String(headerLength),
        "content-type": "application/octet-stream",
        "content-length": String(body.byteLength),
      };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      const started = performance.now();
      try {
        const status = await post(agent, url, path, body, headers);
        if (!measuring) continue;
        if (status === 200) latencies.push(performance.now() - started);
        else {
          errors++;
          errorSample ??= `HTTP ${status}`;
        }
      } catch (error) {
        if (!measuring) continue;
        errors++;
        errorSample ??= String(error);
      }
    }
  };
  const clients = Array.from({ length: opts.concurrency }, (_, k) => client(k));
  await new Promise((r) => setTimeout(r, (opts.warmupSeconds ?? 2) * 1000));
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, opts.seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const done = latencies.length;
  stop = true;
  await Promise.all(clients);
  agent.destroy();
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    requests: done,
    texts: done * opts.textsPerRequest,
    seconds: elapsed,
    textsPerSec: (done * opts.textsPerRequest) / elapsed,
    requestsPerSec: done / elapsed,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    errors,
    ...(errorSample ? { errorSample } : {}),
    latenciesMs: latencies,
  };
}

/** Splits the load over child processes (this same file) and merges their results. */
export async function runLoadProcesses(
  opts: LoadOptions,
  processes: number,
  entry: string,
): Promise<LoadResult> {
  if (processes <= 1) return runLoad(opts);
  const per = Math.max(1, Math.round(opts.concurrency / processes));
  const parts = await Promise.all(
    Array.from({ length: processes }, (_, p) => {
      // "advanced" serialization: a child's latencies travel as one Float64Array, not a JSON list
      // (256 clients of 1 text produce hundreds of thousands of them).
      const child = fork(entry, ["--child"], {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        serialization: "advanced",
      });
      child.send({ ...opts, concurrency: per, seed: p + 1 });
      return new Promise<LoadResult>((resolve, reject) => {
        let answered = false;
        child.once("message", (m) => {
          answered = true;
          resolve(m as LoadResult);
          child.disconnect();
        });
        child.once("exit", (code) => {
          if (!answered) reject(new Error(`load process exited with ${code} before sending its result`));
        });
      });
    }),
  );
  const latencies = parts.flatMap((p) => Array.from(p.latenciesMs ?? [])).sort((a, b) => a - b);
  const seconds = Math.max(...parts.map((p) => p.seconds));
  const requests = parts.reduce((a, p) => a + p.requests, 0);
  const errorSample = parts.find((p) => p.errorSample)?.errorSample;
  return {
    requests,
    texts: requests * opts.textsPerRequest,
    seconds,
    textsPerSec: parts.reduce((a, p) => a + p.textsPerSec, 0),
    requestsPerSec: parts.reduce((a, p) => a + p.requestsPerSec, 0),
    p50Ms: percentile(latencies, 50),
    p90Ms: percentile(latencies, 90),
    p99Ms: percentile(latencies, 99),
    errors: parts.reduce((a, p) => a + p.errors, 0),
    ...(errorSample ? { errorSample } : {}),
  };
}

export function round(result: LoadResult): Record<string, unknown> {
  const { latenciesMs: _, ...rest } = result;
  return Object.fromEntries(
    Object.entries(rest).map(([k, v]) => [k, typeof v === "number" ? Math.round(v * 1000) / 1000 : v]),
  );
}

async function cli(): Promise<void> {
  if (process.argv.includes("--child")) {
    process.once("message", (opts) => {
      runLoad(opts as LoadOptions).then(
        // The parent disconnects once the result is in; until then the channel keeps this alive.
        (r) => process.send?.({ ...r, latenciesMs: Float64Array.from(r.latenciesMs ?? []) }),
        (e: unknown) => {
          process.stderr.write(`${String(e)}\n`);
          process.exit(1);
        },
      );
    });
    return;
  }
  const { values } = parseArgs({
    options: {
      url: { type: "string", default: "http://127.0.0.1:8500" },
      model: { type: "string" },
      concurrency: { type: "string", default: "64" },
      texts: { type: "string", default: "32" },
      seconds: { type: "string", default: "10" },
      warmup: { type: "string", default: "2" },
      processes: { type: "string", default: "1" },
      token: { type: "string" },
      label: { type: "string", default: "load" },
    },
  });
  const headers: Record<string, string> = values.token ? { authorization: `Bearer ${values.token}` } : {};
  let model = values.model;
  if (!model) {
    const list = (await (await fetch(`${values.url}/v2/models`, { headers })).json()) as {
      models: { name: string }[];
    };
    model = list.models[0]!.name;
  }
  const meta = (await (await fetch(`${values.url}/v2/models/${model}`, { headers })).json()) as {
    parameters: { vocab_size: number; provider: string; variant: string };
  };
  const opts: LoadOptions = {
    url: values.url!,
    model,
    concurrency: Number(values.concurrency),
    textsPerRequest: Number(values.texts),
    seconds: Number(values.seconds),
    warmupSeconds: Number(values.warmup),
    vocabSize: meta.parameters.vocab_size,
    ...(values.token ? { token: values.token } : {}),
  };
  const result = await runLoadProcesses(opts, Number(values.processes), process.argv[1]!);
  process.stdout.write(
    `${JSON.stringify({
      step: values.label,
      model,
      provider: meta.parameters.provider,
      variant: meta.parameters.variant,
      concurrency: opts.concurrency,
      textsPerRequest: opts.textsPerRequest,
      processes: Number(values.processes),
      ...round(result),
    })}\n`,
  );
}

// Run as a program (node dist/gpu-load.mjs or node --import tsx bench/gpu-service-load.ts), not on import.
if (process.argv[1] && /gpu-(service-)?load\.(ts|mjs)$/.test(process.argv[1])) void cli();

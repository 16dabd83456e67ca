/**
 * Edge benchmark. Usage: npm run bench:edge [-- --duration S] [--connections N] [--write]
 *
 * 1. End to end: autocannon against the Worker under workerd (wrangler's unstable_startWorker, the
 *    engine of `wrangler dev`, local D1) in front of gpu-service on CPU (default bundle, int8):
 *    p50/p99 latency and requests/s of `classify` with 1 and with 32 texts per request. Model time
 *    comes from gpu-service's own /metrics (intentql_inference_seconds) over the same run.
 * 2. Edge CPU per request, in-process: the same createEdge (schema, plugins, auth, tokenizer,
 *    DataLoader, V2 encode/decode, calibration) with a zero-latency upstream (a fetch function that
 *    answers precomputed logits) and a local D1 read once into the key and alias caches, so only the
 *    edge's own work is timed
 *    (process.cpuUsage over sequential requests).
 * Prints the `## Edge` section; --write also puts it in docs/BENCHMARKS.md (`--no-write`, the
 * default, is accepted because bench/edge-ab.sh passes it to revisions that wrote by default). All
 * traffic on 127.0.0.1.
 */

import os from "node:os";
import { createEdge, generateApiKey, memoryRateLimiter, TokenBuckets } from "@intentql/edge";
import { encodeBinaryMessage, HEADER_LENGTH, type InferResponseHeader, typedBytes } from "@intentql/schema";
import autocannon from "autocannon";
import { startD1 } from "../test/support/d1.ts";
import { createKey, readBundleAssets } from "../test/support/edge-app.ts";
import { startEdgeWorker } from "../test/support/edge-worker.ts";
import { startGpuService } from "../test/support/gpu-service.ts";
import { describeMachine, writeSectionIfAsked } from "./benchmarks-doc.ts";

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const at = argv.indexOf(`--${name}`);
  return at === -1 ? undefined : argv[at + 1];
};
const duration = Number(flag("duration") ?? 10);
const connections = Number(flag("connections") ?? 8);

const PHRASES = [
  "please cancel my alarm",
  "wake me up at nine am on friday",
  "turn off the kitchen lights",
  "what's the weather like in chicago tomorrow",
  "play some jazz from the seventies",
  "add milk and eggs to my shopping list",
  "how many yen is ten dollars",
  "book a taxi to the airport for six thirty",
];
const textsFor = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${PHRASES[i % PHRASES.length]} ${i}`);
const body = (n: number): string =>
  JSON.stringify({
    query: "query ($t: [String!]!) { classify(texts: $t) { intent { name } score outOfScope } }",
    variables: { t: textsFor(n) },
  });

async function modelSeconds(gpuUrl: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${gpuUrl}/metrics`)).text();
  const value = (name: string): number =>
    Number(
      text
        .split("\n")
        .find((l) => l.startsWith(`${name}{`))
        ?.split(" ")
        .pop() ?? 0,
    );
  return { sum: value("intentql_inference_seconds_sum"), count: value("intentql_inference_seconds_count") };
}

interface LoadResult {
  texts: number;
  p50: number;
  p99: number;
  rps: number;
  errors: number;
  non2xx: number;
  modelMsPerRun: number;
  rowsPerRun: number;
}

async function endToEnd(): Promise<LoadResult[]> {
  const key = generateApiKey();
  const token = "bench-upstream-token-0123456789abcdef";
  const gpu = await startGpuService({ authToken: token });
  const edge = await startEdgeWorker({
    upstreamUrl: gpu.url,
    upstreamToken: token,
    pepper: "bench-pepper",
    keys: [{ key, scopes: ["classify"] }],
    // The per-key limit would otherwise be what we measure.
    rateLimits: { keyRequestsPer10s: 1_000_000_000, textsPerSecond: 1_000_000_000 },
  });
  const results: LoadResult[] = [];
  try {
    for (const n of [1, 32]) {
      const headers = { "content-type": "application/json", authorization: `Bearer ${key}` };
      // warm-up (consistency check, JIT, session)
      await autocannon({
        url: `${edge.url}/graphql`,
        method: "POST",
        headers,
        body: body(n),
        duration: 2,
        connections,
      });
      const before = await modelSeconds(gpu.url);
      const r = await autocannon({
        url: `${edge.url}/graphql`,
        method: "POST",
        headers,
        body: body(n),
        duration,
        connections,
      });
      const after = await modelSeconds(gpu.url);
      const runs = after.count - before.count;
      results.push({
        texts: n,
        p50: r.latency.p50,
        p99: r.latency.p99,
        rps: r.requests.average,
        errors: r.errors + r.timeouts,
        non2xx: r.non2xx,
        modelMsPerRun: runs > 0 ? ((after.sum - before.sum) / runs) * 1000 : 0,
        rowsPerRun: runs > 0 ? (r.requests.total * n) / runs : 0,
      });
      process.stderr.write(`e2e ${n} text(s): ${JSON.stringify(results.at(-1))}\n`);
    }
  } finally {
    await edge.dispose();
    await gpu.stop();
  }
  return results;
}

async function edgeCpu(): Promise<{ texts: number; cpuMs: number; wallMs: number }[]> {
  const assets = readBundleAssets();
  // A real local D1 with the migrations (the key and the model aliases are read from it once, then
  // from the isolate's caches); its queries run in workerd, outside this process's CPU time.
  const d1 = await startD1();
  const db = d1.db;
  const key = await createKey(db, ["classify"], "bench");
  const labels = assets.labels.length;
  const manifestText = JSON.stringify(assets.manifest);
  const labelsText = JSON.stringify(assets.labels);
  // Zero-latency upstream: answers from memory, decoding nothing the real server would not.
  const upstreamFetch: typeof fetch = async (input, init) => {
    const url = String(input);
    if (url.endsWith("/v2/models"))
      return new Response(JSON.stringify({ models: [{ name: "massive-scratch" }] }));
    if (url.endsWith("/bundle")) return new Response(manifestText);
    if (url.endsWith("/labels")) return new Response(labelsText);
    const header = JSON.parse(
      new TextDecoder().decode(
        (init!.body as Uint8Array).subarray(0, Number(new Headers(init!.headers).get(HEADER_LENGTH))),
      ),
    ) as { inputs: { shape: number[] }[] };
    const rows = header.inputs[0]!.shape[0]!;
    const logits = new Float32Array(rows * labels).map((_, i) => (i % labels) / 10);
    const encoded = encodeBinaryMessage<InferResponseHeader>({ model_name: "massive-scratch" }, "outputs", [
      { name: "logits", datatype: "FP32", shape: [rows, labels], bytes: typedBytes(logits) },
    ]);
    return new Response(encoded.body as Uint8Array<ArrayBuffer>, {
      headers: { [HEADER_LENGTH]: String(encoded.headerLength) },
    });
  };
  const edge = createEdge({
    assets,
    db,
    pepper: "bench",
    upstream: { url: "http://zero-latency.invalid", model: "massive-scratch", fetch: upstreamFetch },
    limiters: {
      requestsPerKey: memoryRateLimiter(new TokenBuckets(1e9, 1e9)),
      textsPerKey: memoryRateLimiter(new TokenBuckets(1e9, 1e9)),
    },
  });
  const out: { texts: number; cpuMs: number; wallMs: number }[] = [];
  for (const n of [1, 32]) {
    const payload = body(n);
    const once = async (): Promise<void> => {
      const r = await edge.fetch(
        new Request("http://edge/graphql", {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
          body: payload,
        }),
      );
      const json = (await r.json()) as { errors?: unknown };
      if (json.errors) throw new Error(JSON.stringify(json.errors));
    };
    for (let i = 0; i < 300; i++) await once();
    const iterations = n === 1 ? 3000 : 1000;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) await once();
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    out.push({ texts: n, cpuMs: (cpu.user + cpu.system) / 1000 / iterations, wallMs: wall / iterations });
    process.stderr.write(`edge cpu ${n} text(s): ${JSON.stringify(out.at(-1))}\n`);
  }
  await d1.dispose();
  return out;
}

const cpu = await edgeCpu();
const e2e = await endToEnd();

const section = `## Edge

Command: \`npm run bench:edge -- --write\` (\`node --import tsx bench/edge.bench.ts --duration ${duration} --connections ${connections} --write\`).
Machine: ${describeMachine()}, Node ${process.version}, measured ${new Date().toISOString().slice(0, 10)}.

**End to end** — autocannon (${connections} connections, ${duration} s after a 2 s warm-up, same machine) → the Worker
under workerd (wrangler \`unstable_startWorker\`, the engine of \`wrangler dev\`; local D1; API key verified in
D1 once, then from the isolate's key cache; rate limits raised out of the way) → gpu-service on CPU (models/massive-scratch,
int8 variant, default dynamic batching). Everything shares the ${os.cpus().length} logical CPUs, so these are figures for this
machine, not for Cloudflare + a GPU.

| texts / request | p50 ms | p99 ms | requests/s | texts/s | errors | non-2xx | model ms / run | rows / run |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${e2e
  .map(
    (r) =>
      `| ${r.texts} | ${r.p50} | ${r.p99} | ${r.rps.toFixed(0)} | ${(r.rps * r.texts).toFixed(0)} | ${r.errors} | ${r.non2xx} | ${r.modelMsPerRun.toFixed(2)} | ${r.rowsPerRun.toFixed(1)} |`,
  )
  .join("\n")}

"model ms / run" is gpu-service's own \`intentql_inference_seconds\` (one ONNX Runtime run of a dynamic
batch; "rows / run" shows how many texts it merged), measured over the same window.

**Edge CPU per request** — in-process, the same \`createEdge\` (yoga + Pothos schema, limit/auth/rate
plugins, tokenizer, DataLoader, V2 binary encode/decode, calibration) with a zero-latency upstream
(logits answered from memory) and a local D1 (the key and the model aliases read once, then from the
isolate's caches; D1 runs in workerd, outside the timed process), sequential requests, \`process.cpuUsage\`:

| texts / request | edge CPU ms / request | wall ms / request |
| ---: | ---: | ---: |
${cpu.map((r) => `| ${r.texts} | ${r.cpuMs.toFixed(3)} | ${r.wallMs.toFixed(3)} |`).join("\n")}

Node's V8 stands in for workerd's here (same engine); Workers bill CPU time, and this is the part the
edge adds on top of the model.
`;

process.stdout.write(`${section}\n`);
writeSectionIfAsked(argv, "## Edge", section);
process.exit(0);

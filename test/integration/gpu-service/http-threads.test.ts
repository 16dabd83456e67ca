/**
 * --http-threads: HTTP parsed on threads that share the port (SO_REUSEPORT) and feed the main
 * thread's one batcher per model. The protocol, pressure and repository suites run in this mode
 * too (protocol.test.ts, operations.test.ts, model-repository.test.ts); here: what is particular to
 * it. With the real service: connections spread over the threads, their rows meet in the same runs,
 * /metrics sums every thread. With a fake model that counts calls and an HTTP thread that dies on
 * cue (fault injection): the others keep serving, readiness is false until the thread is back, and
 * the dead thread's queued requests are dropped. Direct runs (a request on an idle model goes from
 * its HTTP thread straight to a session thread): same logits, counted; with fake session threads
 * that die or dawdle on cue, a crash mid-run is a 503 and a passed deadline a 504.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionPool } from "../../../gpu-service/src/backends/session-pool.ts";
import { supportsReusePort } from "../../../gpu-service/src/config.ts";
import { Batcher } from "../../../gpu-service/src/core/batcher.ts";
import { systemClock } from "../../../gpu-service/src/core/clock.ts";
import { createLogger } from "../../../gpu-service/src/log.ts";
import { createMetrics } from "../../../gpu-service/src/metrics.ts";
import type { LocalModel } from "../../../gpu-service/src/model-repository.ts";
import { HttpThreads } from "../../../gpu-service/src/router/http-threads.ts";
import type { RouterState } from "../../../gpu-service/src/router/server.ts";
import { fakeSessionThreads } from "../../support/fake-session-threads.ts";
import { type GpuServiceHandle, startGpuService } from "../../support/gpu-service.ts";
import { argmaxRows, postBinary } from "./client.ts";

const BINARY = { header: { parameters: { binary_data_output: true } } };
const TEXTS = ["wake me up at seven", "what's the weather tomorrow", "play some jazz", "turn off the lights"];

/** A served model named `name` of 60 labels, around the given batcher (and direct runs, if any). */
function servedModel(
  name: string,
  parts: Pick<LocalModel, "batcher" | "ready"> & Partial<Pick<LocalModel, "direct">>,
): LocalModel {
  return {
    signature: {
      name,
      version: "1",
      maxLength: 128,
      vocabSize: 6002,
      inputNames: ["input_ids", "attention_mask"],
      outputName: "logits",
    },
    provider: "cpu",
    variant: "fp32",
    labelsJson: "[]",
    bundleJson: "{}",
    vocabText: "",
    inputs: [],
    outputs: [],
    ...parts,
  };
}

/** HTTP threads over `state`, each one the real thread that also dies on cue (crashing-http-thread.ts). */
function startThreads(
  state: RouterState<LocalModel>,
  opts: { threads: number; requestTimeoutMs: number; log?: (line: string) => void },
): Promise<HttpThreads> {
  return HttpThreads.start({
    threads: opts.threads,
    host: "127.0.0.1",
    port: 0,
    authTokens: [],
    bodyLimitBytes: 1 << 20,
    requestTimeoutMs: opts.requestTimeoutMs,
    maxRequestRows: 64,
    logLevel: "error",
    log: createLogger("info", opts.log ?? (() => {})),
    metrics: createMetrics(),
    state,
    repository: { index: () => [], load: async () => {}, unload: async () => {} },
    threadEntry: {
      url: new URL("../../support/crashing-http-thread.ts", import.meta.url),
      execArgv: ["--import", "tsx"],
    },
  });
}

describe("gpu-service with 2 HTTP threads (real model)", () => {
  let threaded: GpuServiceHandle;
  let single: GpuServiceHandle;
  beforeAll(async () => {
    [threaded, single] = await Promise.all([
      startGpuService({ args: ["--variant", "fp32", "--http-threads", "2", "--max-batch-size", "256"] }),
      startGpuService({ args: ["--variant", "fp32"] }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([threaded?.stop(), single?.stop()]);
  });

  it("answers with the same logits as the main-thread router", async () => {
    const [a, b] = await Promise.all([
      postBinary(threaded.url, TEXTS, BINARY),
      postBinary(single.url, TEXTS, BINARY),
    ]);
    expect(a.status).toBe(200);
    expect(a.header.outputs[0]!.shape).toEqual([4, 60]);
    expect(Array.from(a.logits!)).toEqual(Array.from(b.logits!));
    expect(argmaxRows(a.logits!, 60)).toEqual(argmaxRows(b.logits!, 60));
  });

  it("spreads connections over both threads, batches their rows together, and sums /metrics", async () => {
    const scrape = async () => (await fetch(`${threaded.url}/metrics`)).text();
    const counter = (text: string, pattern: RegExp) =>
      [...text.matchAll(pattern)].reduce((sum, m) => sum + Number(m[1]), 0);
    const before = await scrape();
    // 48 requests at once, each on a connection of its own (fetch opens one per concurrent request).
    const results = await Promise.all(
      Array.from({ length: 48 }, (_, i) => postBinary(threaded.url, [TEXTS[i % 4]!])),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    const after = await scrape();
    const inferRoute =
      /^intentql_http_requests_total\{route="\/v2\/models\/\{name\}\/infer",status="200"\} (\d+)$/gm;
    expect(counter(after, inferRoute) - counter(before, inferRoute)).toBe(48);
    const runs = /^intentql_batch_rows_count\{model="massive-scratch"\} (\d+)$/gm;
    // Rows parsed on different threads met in the same runs: far fewer runs than requests.
    expect(counter(after, runs) - counter(before, runs)).toBeLessThan(48);
    for (const thread of ["http-1", "http-2"]) {
      const connections = new RegExp(
        `^intentql_http_connections_total\\{thread="${thread}"\\} (\\d+)$`,
        "gm",
      );
      expect(counter(after, connections)).toBeGreaterThan(0);
      expect(after).toMatch(
        new RegExp(`^intentql_event_loop_delay_seconds\\{stat="p99",thread="${thread}"\\} `, "m"),
      );
    }
    expect(after).toMatch(/^intentql_event_loop_delay_seconds\{stat="p99",thread="main"\} /m);
    expect(after).not.toMatch(/^intentql_http_connections_total\{thread="main"\}/m);
  });

  it("runs a request on an idle model directly on a session thread, with the same logits", async () => {
    const direct = async () =>
      Number(
        /^intentql_direct_runs_total\{model="massive-scratch"\} (\d+)$/m.exec(
          await (await fetch(`${threaded.url}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    /** Direct runs since `before` once they reach `n`, or after 5 s what they are. */
    const directRunsReach = async (n: number) => {
      const deadline = Date.now() + 5_000;
      let runs = (await direct()) - before;
      while (runs < n && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        runs = (await direct()) - before;
      }
      return runs;
    };
    const before = await direct();
    const expected = await postBinary(single.url, TEXTS, BINARY);
    // One request at a time, each sent once the pool has heard that the last direct run is done (the
    // reply leaves the HTTP thread before that message reaches the main thread, which then reopens
    // the gate and counts the run): the model is idle for each, so each runs directly.
    for (let i = 0; i < 5; i++) {
      const r = await postBinary(threaded.url, TEXTS, BINARY);
      expect(r.status).toBe(200);
      expect(Array.from(r.logits!)).toEqual(Array.from(expected.logits!));
      expect(await directRunsReach(i + 1)).toBe(i + 1);
    }
  });

  it("each request gets its own answer back when many share one thread's message", async () => {
    // Different texts in flight together: a mix-up between requests would swap their logits.
    const expected = await postBinary(single.url, TEXTS, BINARY);
    const want = argmaxRows(expected.logits!, 60);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        postBinary(threaded.url, [TEXTS[i % 4]!, TEXTS[(i + 1) % 4]!], BINARY),
      ),
    );
    results.forEach((r, i) => {
      expect(argmaxRows(r.logits!, 60)).toEqual([want[i % 4], want[(i + 1) % 4]]);
    });
  });
});

describe("HTTP threads under faults (fake model, a thread that dies on cue)", () => {
  const submitted: AbortSignal[] = [];
  const hang = new Set<string>(["hang"]);
  const fakeModel = (name: string): LocalModel => {
    const batcher = {
      submit: (rows: unknown[], options: { signal?: AbortSignal } = {}) => {
        if (options.signal) submitted.push(options.signal);
        // "hang" never answers (a long queue); the others answer zeros at once.
        if (hang.has(name)) return new Promise(() => {});
        return Promise.resolve({ data: new Float32Array(rows.length * 60), width: 60 });
      },
    } as unknown as Batcher;
    return servedModel(name, { batcher, ready: () => true });
  };
  const state: RouterState<LocalModel> = {
    phase: "ready",
    models: new Map([
      ["fake", fakeModel("fake")],
      ["hang", fakeModel("hang")],
    ]),
  };
  const logs: string[] = [];
  let threads: HttpThreads;
  beforeAll(async () => {
    threads = await startThreads(state, {
      threads: 2,
      requestTimeoutMs: 60_000,
      log: (line) => logs.push(line),
    });
  }, 60_000);
  afterAll(async () => {
    state.phase = "draining";
    await threads?.close();
  });

  const infer = (model: string, signal?: AbortSignal) =>
    fetch(`${threads.url}/v2/models/${model}/infer`, {
      method: "POST",
      body: JSON.stringify({
        inputs: [
          { name: "input_ids", datatype: "INT64", shape: [1, 3], data: [101, 2000, 102] },
          { name: "attention_mask", datatype: "INT64", shape: [1, 3], data: [1, 1, 1] },
        ],
      }),
      ...(signal ? { signal } : {}),
    });
  const ready = async () => (await fetch(`${threads.url}/v2/health/ready`)).status;
  const until = async (check: () => boolean | Promise<boolean>, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error("condition not met in time");
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it("a thread that dies: the other serves, readiness is false until it is back, its queued requests are dropped", async () => {
    expect(await ready()).toBe(200);
    // 16 requests that stay queued, on 16 connections: the kernel gives both threads some of them.
    const caller = new AbortController();
    const hanging = Array.from({ length: 16 }, () => infer("hang", caller.signal).catch((e: unknown) => e));
    await until(() => submitted.length === 16);
    const queued = submitted.slice();

    state.models.set("crash-http-1", fakeModel("crash-http-1"));
    threads.sync();
    state.models.delete("crash-http-1");
    await until(() => logs.some((l) => l.includes('"event":"http_thread_exit"')));
    expect(threads.ready()).toBe(false);
    // The requests that thread 1 held are dropped (their callers are gone); thread 2's stay queued.
    const dropped = queued.filter((s) => s.aborted).length;
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThan(16);
    // Thread 2 answers meanwhile, and says not ready (thread 1 restarts after 100 ms at the earliest).
    expect(await ready()).toBe(503);
    expect((await infer("fake")).status).toBe(200);

    await until(() => threads.ready());
    await until(async () => (await ready()) === 200);
    const statuses = await Promise.all(Array.from({ length: 8 }, async () => (await infer("fake")).status));
    expect(statuses).toEqual(Array(8).fill(200));
    caller.abort();
    await Promise.all(hanging);
    // The callers that left took their rows with them on thread 2 as well.
    await until(() => queued.every((s) => s.aborted));
  });

  it("needs Node ≥ 22.12 for SO_REUSEPORT", () => {
    expect(supportsReusePort("20.20.2")).toBe(false);
    expect(supportsReusePort("22.11.0")).toBe(false);
    expect(supportsReusePort("22.12.0")).toBe(true);
    expect(supportsReusePort("24.21.0")).toBe(true);
  });
});

describe("direct runs under faults (fake session threads that die or dawdle on cue)", () => {
  let pool: SessionPool;
  let threads: HttpThreads;
  let directRuns = 0;
  const state: RouterState<LocalModel> = { phase: "ready", models: new Map() };
  beforeAll(async () => {
    pool = await SessionPool.open({
      ...fakeSessionThreads,
      size: 1,
      log: createLogger("error", () => {}),
      onDirectRun: () => directRuns++,
    });
    const batcher = new Batcher({
      maxBatchSize: 32,
      maxBatchTokens: 4096,
      maxQueueDelayUs: 0,
      maxQueueRows: 1024,
      maxInFlight: 1,
      padMultiple: 1,
      maxSeqLength: 128,
      padId: 0n,
      clock: systemClock,
      run: (batch) => pool.run(batch),
    });
    state.models.set(
      "fake",
      servedModel("fake", {
        batcher,
        ready: () => pool.ready(),
        direct: {
          pool: pool.id,
          gate: pool.gate,
          padding: batcher.paddingPolicy(),
          maxBatchSize: 32,
          maxBatchTokens: 4096,
          connectPeers: (listener) => pool.connectPeers(listener),
        },
      }),
    );
    threads = await startThreads(state, { threads: 1, requestTimeoutMs: 200 });
  }, 60_000);
  afterAll(async () => {
    state.phase = "draining";
    await threads?.close();
    await pool?.close();
  });

  const infer = (rows: number) =>
    fetch(`${threads.url}/v2/models/fake/infer`, {
      method: "POST",
      body: JSON.stringify({
        inputs: [
          {
            name: "input_ids",
            datatype: "INT64",
            shape: [rows, 3],
            data: Array(rows).fill([101, 2000, 102]).flat(),
          },
          { name: "attention_mask", datatype: "INT64", shape: [rows, 3], data: Array(rows * 3).fill(1) },
        ],
      }),
    });
  /**
   * Until a lone request runs directly (the thread has the model's ports and snapshot, the pool is
   * idle with a thread up). Requests meanwhile may get 503 while a thread restarts.
   */
  const untilDirect = async () => {
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      const before = directRuns;
      const ok = (await infer(1)).status === 200;
      await new Promise((r) => setTimeout(r, 20)); // direct-done reaches the pool after the answer
      if (ok && directRuns > before && Atomics.load(pool.gate, 0) > 0) return;
    }
    throw new Error("no direct run in time");
  };

  it("a session thread that dies during a direct run: 503 for its request, then served again", async () => {
    await untilDirect();
    const lost = await infer(13); // the fake thread exits in the middle of a 13-row run
    expect(lost.status).toBe(503);
    expect(await lost.text()).toMatch(/session thread stopped during the run; retry/);
    // The replacement thread opens, its port reaches the HTTP thread, and requests run directly again.
    await untilDirect();
    expect((await infer(2)).status).toBe(200);
  });

  it("a direct run past the request's deadline: 504, and the model serves the next request", async () => {
    await untilDirect();
    const slow = await infer(5); // the fake thread takes 300 ms; the deadline is 200 ms
    expect(slow.status).toBe(504);
    // The run ends anyway; the pool frees the thread and reopens the gate.
    await untilDirect();
    expect((await infer(3)).status).toBe(200);
  });
});

/**
 * The session pool with real onnxruntime-node sessions in worker threads (CPU): runs move through
 * transferred buffers, and a thread that dies (terminated here, as a crash would end it) fails only
 * the run it held, with a 503-mapped error, while the pool reports not ready until a replacement has
 * opened and warmed its session.
 */
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionPool } from "../../../gpu-service/src/backends/session-pool.ts";
import { loadBundle } from "../../../gpu-service/src/bundle/load-bundle.ts";
import { BackendUnavailableError } from "../../../gpu-service/src/core/errors.ts";
import { createLogger } from "../../../gpu-service/src/log.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
let pool: SessionPool;
const events: string[] = [];
const readiness: boolean[] = [];

function batch(rows: number, seqLength = 16) {
  const inputIds = new BigInt64Array(rows * seqLength).fill(101n);
  const attentionMask = new BigInt64Array(rows * seqLength).fill(1n);
  return { rows, seqLength, inputIds, attentionMask };
}

beforeAll(async () => {
  const bundle = await loadBundle(resolve(ROOT, "models/massive-scratch"));
  const model = { path: bundle.modelPath("fp32"), variant: "fp32" as const };
  pool = await SessionPool.open({
    models: { cpu: model, cuda: model },
    device: "cpu",
    intraOpThreads: 1,
    where: "massive-scratch",
    outputName: "logits",
    warmUp: { maxBatchSize: 8, maxBatchTokens: 1024, maxSeqLength: 128, clsId: 101n },
    size: 2,
    log: createLogger("debug", (line) => events.push(line)),
    onReadyChange: (ready) => readiness.push(ready),
  });
}, 60_000);
afterAll(async () => {
  await pool?.close();
});

describe("session pool (worker threads)", () => {
  it("opens one warm session per thread and runs batches off the main thread", async () => {
    expect(pool.size).toBe(2);
    expect(pool.provider).toBe("cpu");
    expect(pool.ready()).toBe(true);
    const input = batch(4);
    const [a, b] = await Promise.all([pool.run(input), pool.run(batch(3))]);
    expect(a).toHaveLength(4 * 60);
    expect(b).toHaveLength(3 * 60);
    // The input buffers were transferred to the thread, not copied.
    expect(input.inputIds.byteLength).toBe(0);
  });

  it("a crashed thread fails only its run (503), readiness drops, and a replacement restores it", async () => {
    const running = pool.run(batch(8, 128));
    pool.threadOf(0)!.terminate();
    const other = pool.run(batch(2));
    await expect(running).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(running).rejects.toThrow(/session thread 0 of massive-scratch stopped/);
    expect((await other).length).toBe(2 * 60);
    expect(pool.ready()).toBe(false);
    const until = Date.now() + 30_000;
    while (!pool.ready() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(pool.ready()).toBe(true);
    expect(readiness).toEqual([true, false, true]);
    expect(events.some((l) => l.includes('"event":"session_thread_restarted"'))).toBe(true);
    const after = await Promise.all([pool.run(batch(1)), pool.run(batch(1))]);
    expect(after.map((x) => x.length)).toEqual([60, 60]);
  }, 40_000);

  it("with no thread up, a run fails at once instead of waiting", async () => {
    const single = await SessionPool.open({
      models: {
        cpu: { path: resolve(ROOT, "models/massive-scratch/model.int8.onnx"), variant: "int8" },
        cuda: { path: resolve(ROOT, "models/massive-scratch/model.int8.onnx"), variant: "int8" },
      },
      device: "cpu",
      intraOpThreads: 1,
      where: "single",
      outputName: "logits",
      warmUp: { maxBatchSize: 1, maxBatchTokens: 128, maxSeqLength: 128, clsId: 101n },
      size: 1,
      log: createLogger("error", () => {}),
    });
    try {
      await single.threadOf(0)!.terminate();
      await expect(single.run(batch(1))).rejects.toThrow(/no session thread is up/);
    } finally {
      await single.close();
    }
  }, 40_000);
});

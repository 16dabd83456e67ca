/**
 * The session pool: real onnxruntime-node sessions in worker threads (CPU) whose runs move through
 * transferred buffers; and, with a fake thread that crashes on cue (fault injection), a thread that
 * dies fails only the run it held, with a 503-mapped error, while the pool reports not ready until a
 * replacement is up.
 */
import { resolve } from "node:path";
import type { MessagePort } from "node:worker_threads";
import { loadBundle } from "@intentql/gpu-service";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionPool } from "../../../gpu-service/src/backends/session-pool.ts";
import { BackendUnavailableError } from "../../../gpu-service/src/core/errors.ts";
import { createLogger } from "../../../gpu-service/src/log.ts";
import { fakeSessionThreads } from "../../support/fake-session-threads.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
let pool: SessionPool;

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
    warmUp: { maxBatchSize: 8, maxBatchTokens: 1024, maxSeqLength: 128, clsId: 101n, shapeBuckets: "off" },
    size: 2,
    log: createLogger("error", () => {}),
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
    // The fake thread exits in the middle of a 13-row run: terminating a real one mid-run would abort
    // the whole process (onnxruntime-node throws from native code), which close() never does.
    const readiness: boolean[] = [];
    const log: string[] = [];
    const crashing = await SessionPool.open({
      ...fakeSessionThreads,
      size: 2,
      log: createLogger("debug", (line) => log.push(line)),
      onReadyChange: (ready) => readiness.push(ready),
    });
    try {
      const [lost, other] = [crashing.run(batch(13)), crashing.run(batch(2))];
      await expect(lost).rejects.toBeInstanceOf(BackendUnavailableError);
      await expect(lost).rejects.toThrow(/session thread 0 of fake stopped \(exit code 7\)/);
      expect((await other).length).toBe(2 * 60);
      expect(crashing.ready()).toBe(false);
      const until = Date.now() + 10_000;
      while (!crashing.ready() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(crashing.ready()).toBe(true);
      expect(readiness).toEqual([true, false, true]);
      expect(log.some((l) => l.includes('"event":"session_thread_restarted"'))).toBe(true);
      const after = await Promise.all([crashing.run(batch(1)), crashing.run(batch(1))]);
      expect(after.map((x) => x.length)).toEqual([60, 60]);
    } finally {
      await crashing.close();
    }
  });

  it("with --spin-wait-us, a thread that polls for its next run answers it the same", async () => {
    const bundle = await loadBundle(resolve(ROOT, "models/massive-scratch"));
    const model = { path: bundle.modelPath("fp32"), variant: "fp32" as const };
    const spinning = await SessionPool.open({
      models: { cpu: model, cuda: model },
      device: "cpu",
      intraOpThreads: 1,
      spinWaitUs: 50_000, // longer than the gap between these runs: each one is found by polling
      where: "massive-scratch",
      outputName: "logits",
      warmUp: { maxBatchSize: 8, maxBatchTokens: 1024, maxSeqLength: 128, clsId: 101n, shapeBuckets: "off" },
      size: 1,
      log: createLogger("error", () => {}),
    });
    try {
      for (const rows of [1, 3, 2, 4]) {
        const [a, b] = [await spinning.run(batch(rows)), await pool.run(batch(rows))];
        expect(Array.from(a)).toEqual(Array.from(b));
      }
      // A direct run sent while the thread polls is found the same way.
      const ports = new Map<number, MessagePort>();
      spinning.connectPeers((session, port) => ports.set(session, port));
      await spinning.run(batch(1)); // the thread now polls its ports, the new peer port included
      const open = Atomics.load(spinning.gate, 0);
      expect(Atomics.compareExchange(spinning.gate, 0, open, -1)).toBe(open);
      const { inputIds, attentionMask } = batch(2);
      const out = await new Promise<{ logits: Float32Array }>((done) => {
        ports.get(0)!.once("message", done);
        ports.get(0)!.postMessage({ id: 1, rows: 2, seqLength: 16, inputIds, attentionMask, realRows: 2 });
      });
      expect(Array.from(out.logits)).toEqual(Array.from(await pool.run(batch(2))));
    } finally {
      await spinning.close();
    }
  });

  it("with no thread up, a run fails at once instead of waiting", async () => {
    const single = await SessionPool.open({
      ...fakeSessionThreads,
      size: 1,
      log: createLogger("error", () => {}),
    });
    try {
      await expect(single.run(batch(13))).rejects.toBeInstanceOf(BackendUnavailableError);
      // Its only thread is down (restarting after 100 ms): no waiting, an answer at once.
      await expect(single.run(batch(1))).rejects.toThrow(/no session thread is up/);
    } finally {
      await single.close();
    }
  });

  describe("direct runs: the gate an HTTP thread claims on an idle pool", () => {
    const open = (size: number, onDirectRun?: (info: { rows: number }) => void) =>
      SessionPool.open({
        ...fakeSessionThreads,
        size,
        log: createLogger("error", () => {}),
        ...(onDirectRun ? { onDirectRun } : {}),
      });
    const portsOf = (pool: SessionPool) => {
      const ports = new Map<number, MessagePort>();
      pool.connectPeers((session, port) => ports.set(session, port));
      return ports;
    };
    /** Claims the gate as HTTP thread 1 would and sends a direct run of `rows` rows on its port. */
    const claimAndRun = (pool: SessionPool, ports: Map<number, MessagePort>, rows: number) => {
      const open = Atomics.load(pool.gate, 0);
      expect(open).toBeGreaterThan(0);
      expect(Atomics.compareExchange(pool.gate, 0, open, -1)).toBe(open);
      const port = ports.get(open - 1)!;
      const seqLength = 4;
      return new Promise<{ type: string; logits?: Float32Array }>((done) => {
        port.once("message", done);
        port.postMessage({
          id: 1,
          rows,
          seqLength,
          inputIds: new BigInt64Array(rows * seqLength),
          attentionMask: new BigInt64Array(rows * seqLength).fill(1n),
          realRows: rows,
        });
      });
    };

    it("opens for a thread while the pool is idle, and a run waits for the claimed thread's direct run", async () => {
      const direct: number[] = [];
      const pool = await open(1, ({ rows }) => direct.push(rows));
      try {
        const ports = portsOf(pool);
        expect(ports.size).toBe(1);
        expect(Atomics.load(pool.gate, 0)).toBe(1); // open for thread 0
        const order: string[] = [];
        const directRun = claimAndRun(pool, ports, 5).then((out) => {
          order.push("direct");
          return out;
        });
        // The pool finds the claim when it closes the gate for its own run, which then waits.
        const batched = pool.run(batch(2)).then((out) => {
          order.push("batched");
          return out;
        });
        expect(Atomics.load(pool.gate, 0)).toBe(0);
        expect((await directRun).logits).toHaveLength(5 * 60);
        expect(await batched).toHaveLength(2 * 60);
        expect(order).toEqual(["direct", "batched"]);
        expect(direct).toEqual([5]);
        // Idle again: open again.
        expect(Atomics.load(pool.gate, 0)).toBe(1);
      } finally {
        await pool.close();
      }
    });

    it("stays shut while a run is in flight, and close() waits for a direct run still going", async () => {
      const pool = await open(2);
      try {
        const ports = portsOf(pool);
        const running = pool.run(batch(1));
        expect(Atomics.load(pool.gate, 0)).toBe(0);
        await running;
        expect(Atomics.load(pool.gate, 0)).toBeGreaterThan(0);
        const directRun = claimAndRun(pool, ports, 5);
        await pool.close(); // would abort a real run if it terminated the thread now
        expect((await directRun).logits).toHaveLength(5 * 60);
        expect(Atomics.load(pool.gate, 0)).toBe(0);
      } finally {
        await pool.close();
      }
    });

    it("a thread that dies during a direct run closes its port; the gate reopens once a thread is back", async () => {
      const pool = await open(1);
      try {
        const ports = portsOf(pool);
        const closed = new Promise<void>((done) => ports.get(0)!.once("close", () => done()));
        void claimAndRun(pool, ports, 13);
        await closed;
        const wait = async (want: boolean) => {
          const until = Date.now() + 10_000;
          while (pool.ready() !== want && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
        };
        await wait(false); // the pool hears of the exit (a restart follows after 100 ms)
        expect(pool.ready()).toBe(false);
        await wait(true);
        expect(pool.ready()).toBe(true);
        expect(Atomics.load(pool.gate, 0)).toBe(1);
        // The replacement thread sent a new port.
        const rerun = await claimAndRun(pool, ports, 2);
        expect(rerun.logits).toHaveLength(2 * 60);
      } finally {
        await pool.close();
      }
    });
  });
});

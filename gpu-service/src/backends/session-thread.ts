/**
 * One ONNX Runtime session in a worker thread (gpu-service/src/backends/session-pool.ts starts it).
 * onnxruntime-node runs a session synchronously on the thread that calls it; here that thread is
 * not the one parsing HTTP, so the event loop of the main thread never stalls for a model run.
 *
 * Protocol (structured clone; tensors move as transferred ArrayBuffers, never copied):
 *   main → thread  RunMessage { id, rows, seqLength, inputIds, attentionMask, parts? }
 *                  { type: "peer", port }: a port from an HTTP thread for direct runs (below)
 *   thread → main  { type: "ready", provider, variant, fallbackReason?, warmupRuns }
 *                  { type: "result", id, logits: Float32Array } | { type: "error", id, message }
 *                  { type: "direct-done", rows, tokens, parts, ms, ok } after each direct run
 * Direct runs (--http-threads, an idle model): an HTTP thread that claimed this thread through the
 * pool's gate (session-pool.ts) posts a DirectRunMessage on its peer port and gets the result or
 * error back on that port, without the main thread in between; the main thread hears of it after.
 * A failure to open the session throws, which ends the thread with an error the pool reports.
 */
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import type { Variant } from "@intentql/schema";
import { type RunBatch, type RunReport, runTokens } from "../core/batch.ts";
import { bucketShapes, type ShapeBucketsMode, shapeBuckets, useShapeBuckets } from "../core/shape-buckets.ts";
import { type Device, openSession, type Provider, warmUp } from "./onnx.ts";

/**
 * --spin-wait-us auto: 2000 µs on CUDA, where the thread waits on the GPU anyway and a spinning
 * core costs nothing else; on two H100 instances it took a lone text's p50 from 1.414 to 1.262 ms
 * and from 1.533 to 1.427 ms (docs/BENCHMARKS.md). Never on CPU, where the spinning core is one the
 * next run's intra-op threads need.
 */
export const CUDA_SPIN_WAIT_US = 2000;

export function spinWaitFor(setting: number | "auto" | undefined, provider: Provider): number {
  if (setting === undefined) return 0;
  if (setting !== "auto") return setting;
  return provider === "cuda" ? CUDA_SPIN_WAIT_US : 0;
}

export interface SessionThreadData {
  /** Which file and variant each provider loads (the bundle's choice, or --variant). */
  models: Record<Provider, { path: string; variant: Variant }>;
  device: Device;
  intraOpThreads: number;
  /**
   * After a run, poll for the next message this long (µs) instead of sleeping (--spin-wait-us; 0:
   * never; auto: spinWaitFor): a lone caller's next request then finds the thread awake.
   */
  spinWaitUs?: number | "auto";
  where: string;
  outputName: string;
  warmUp: {
    maxBatchSize: number;
    maxBatchTokens: number;
    maxSeqLength: number;
    clsId: bigint;
    /** onnx.ts warmUp's probe: the vocab's largest id and the bundle's label count. */
    maxId?: bigint;
    labelCount?: number;
    /** Whether runs are padded to shape buckets: then every bucket shape is run once here. */
    shapeBuckets: ShapeBucketsMode;
  };
}

/** A finished run: its outputs or why it failed. On the main port, and on a peer port for direct runs. */
export type RunOutcome =
  | { type: "result"; id: number; logits: Float32Array }
  | { type: "error"; id: number; message: string };

export type ThreadMessage =
  | { type: "ready"; provider: Provider; variant: Variant; fallbackReason?: string; warmupRuns: number }
  | RunOutcome
  | ({ type: "direct-done" } & RunReport);

export interface RunMessage extends RunBatch {
  id: number;
}

/** A run an HTTP thread sends on its peer port: `realRows` of its rows are not dummies. */
export interface DirectRunMessage extends RunMessage {
  realRows: number;
}

export type ToSessionThread = RunMessage | { type: "peer"; port: MessagePort };

async function main(port: NonNullable<typeof parentPort>, data: SessionThreadData): Promise<void> {
  const model = await openSession(data);
  const w = data.warmUp;
  const shapes = useShapeBuckets(w.shapeBuckets, model.provider)
    ? bucketShapes(shapeBuckets(w.maxBatchSize, w.maxSeqLength), w.maxBatchTokens)
    : undefined;
  const warmupRuns = await warmUp(model, { ...w, ...(shapes ? { shapes } : {}) });
  const spinUs = spinWaitFor(data.spinWaitUs, model.provider);
  const ready: ThreadMessage = {
    type: "ready",
    provider: model.provider,
    variant: model.variant,
    warmupRuns,
    ...(model.fallbackReason !== undefined ? { fallbackReason: model.fallbackReason } : {}),
  };
  port.postMessage(ready);
  // Runs one batch: its outputs (a copy the thread owns, so its buffer can be transferred: ONNX
  // Runtime may keep its own) or its error.
  const run = async (message: RunMessage): Promise<RunOutcome> => {
    try {
      return { type: "result", id: message.id, logits: (await model.run(message)).slice() };
    } catch (error) {
      return {
        type: "error",
        id: message.id,
        message: error instanceof Error ? error.message : String(error),
      };
    }
  };
  const send = (to: MessagePort | typeof port, outcome: RunOutcome): void =>
    to.postMessage(outcome, outcome.type === "result" ? [outcome.logits.buffer as ArrayBuffer] : []);
  const peers = new Set<MessagePort>();
  const onMain = async (message: ToSessionThread): Promise<void> => {
    if (!("type" in message)) {
      send(port, await run(message));
      spinForNext();
      return;
    }
    const peer = message.port;
    peers.add(peer);
    peer.on("message", (direct: DirectRunMessage) => void onPeer(peer, direct));
    // The HTTP thread is gone (its end closed): nothing more comes on this port.
    peer.on("close", () => {
      peers.delete(peer);
      peer.removeAllListeners();
    });
  };
  const onPeer = async (peer: MessagePort, direct: DirectRunMessage): Promise<void> => {
    const started = performance.now();
    const outcome = await run(direct);
    // The pool hears first, so that it reopens its gate while the HTTP thread answers: the next
    // request of a lone caller then finds the model idle again.
    port.postMessage({
      type: "direct-done",
      rows: direct.realRows,
      tokens: runTokens(direct),
      parts: direct.parts?.length ?? 1,
      ms: performance.now() - started,
      ok: outcome.type === "result",
    } satisfies ThreadMessage);
    send(peer, outcome);
    spinForNext();
  };
  // --spin-wait-us: the thread has nothing else to do, so it may poll its ports for a while before
  // it sleeps; a message found is handled as its listener would (receiveMessageOnPort takes it off
  // the port's queue, so the listener never sees it).
  const spinForNext = (): void => {
    if (spinUs <= 0) return;
    const until = performance.now() + spinUs / 1000;
    while (performance.now() < until) {
      const fromMain = receiveMessageOnPort(port);
      if (fromMain !== undefined) return void onMain(fromMain.message as ToSessionThread);
      for (const peer of peers) {
        const direct = receiveMessageOnPort(peer);
        if (direct !== undefined) return void onPeer(peer, direct.message as DirectRunMessage);
      }
    }
  };
  port.on("message", (message: ToSessionThread) => void onMain(message));
}

if (parentPort !== null && (workerData as { kind?: string } | null)?.kind === "intentql-session")
  await main(parentPort, (workerData as { data: SessionThreadData }).data);

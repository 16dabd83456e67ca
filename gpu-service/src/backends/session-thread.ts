/**
 * One ONNX Runtime session in a worker thread (gpu-service/src/backends/session-pool.ts starts it).
 * onnxruntime-node runs a session synchronously on the thread that calls it; here that thread is
 * not the one parsing HTTP, so the event loop of the main thread never stalls for a model run.
 *
 * Protocol (structured clone; tensors move as transferred ArrayBuffers, never copied):
 *   main → thread  { id, rows, seqLength, inputIds: BigInt64Array, attentionMask: BigInt64Array }
 *   thread → main  { type: "ready", provider, variant, fallbackReason?, warmupRuns }
 *                  { type: "result", id, logits: Float32Array } | { type: "error", id, message }
 * A failure to open the session throws, which ends the thread with an error the pool reports.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { Variant } from "@intentql/schema";
import type { RunBatch } from "../core/batch.ts";
import { bucketShapes, type ShapeBucketsMode, shapeBuckets, useShapeBuckets } from "../core/shape-buckets.ts";
import { type Device, openSession, type Provider, warmUp } from "./onnx.ts";

export interface SessionThreadData {
  /** Which file and variant each provider loads (the bundle's choice, or --variant). */
  models: Record<Provider, { path: string; variant: Variant }>;
  device: Device;
  intraOpThreads: number;
  where: string;
  outputName: string;
  warmUp: {
    maxBatchSize: number;
    maxBatchTokens: number;
    maxSeqLength: number;
    clsId: bigint;
    /** Whether runs are padded to shape buckets: then every bucket shape is run once here. */
    shapeBuckets: ShapeBucketsMode;
  };
}

export type ThreadMessage =
  | { type: "ready"; provider: Provider; variant: Variant; fallbackReason?: string; warmupRuns: number }
  | { type: "result"; id: number; logits: Float32Array }
  | { type: "error"; id: number; message: string };

export interface RunMessage extends RunBatch {
  id: number;
}

async function main(port: NonNullable<typeof parentPort>, data: SessionThreadData): Promise<void> {
  const model = await openSession(data);
  const w = data.warmUp;
  const shapes = useShapeBuckets(w.shapeBuckets, model.provider)
    ? bucketShapes(shapeBuckets(w.maxBatchSize, w.maxSeqLength), w.maxBatchTokens)
    : undefined;
  const warmupRuns = await warmUp(model, { ...w, ...(shapes ? { shapes } : {}) });
  const ready: ThreadMessage = {
    type: "ready",
    provider: model.provider,
    variant: model.variant,
    warmupRuns,
    ...(model.fallbackReason !== undefined ? { fallbackReason: model.fallbackReason } : {}),
  };
  port.postMessage(ready);
  port.on("message", (message: RunMessage) => {
    model.run(message).then(
      (logits) => {
        // A copy the thread owns, so its buffer can be transferred (ONNX Runtime may keep its own).
        const out = logits.slice();
        port.postMessage({ type: "result", id: message.id, logits: out } satisfies ThreadMessage, [
          out.buffer,
        ]);
      },
      (error: unknown) =>
        port.postMessage({
          type: "error",
          id: message.id,
          message: error instanceof Error ? error.message : String(error),
        } satisfies ThreadMessage),
    );
  });
}

if (parentPort !== null && (workerData as { kind?: string } | null)?.kind === "intentql-session")
  await main(parentPort, (workerData as { data: SessionThreadData }).data);

import { createRequire } from "node:module";
import type { Variant } from "@intentql/schema";
import type * as Ort from "onnxruntime-node";
import { checkSessionSignature } from "../bundle/load-bundle.ts";
import type { RunBatch } from "../core/batch.ts";

// Loaded with require, not import: the bundled dist/gpu-service.mjs runs on a GPU host where
// onnxruntime-node (with its CUDA provider) is found only through NODE_PATH, which ESM imports ignore.
const ort = createRequire(import.meta.url)("onnxruntime-node") as typeof Ort;

export type Device = "auto" | "cpu" | "cuda";
export type Provider = "cuda" | "cpu";

export interface OnnxModel {
  provider: Provider;
  variant: Variant;
  /** Why CUDA was not used, when `--device auto` fell back to CPU. */
  fallbackReason?: string;
  run(batch: RunBatch): Promise<Float32Array>;
  release(): Promise<void>;
}

async function createSession(path: string, provider: Provider, intraOpThreads: number) {
  const options: Ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: "all",
  };
  // On CUDA the only nodes left on the CPU are shape computations: one thread does them, where
  // ONNX Runtime's default is a pool of one thread per core, per session, next to the threads that
  // parse HTTP and launch kernels. (On an H100, against 16 threads, no clear difference either way:
  // docs/BENCHMARKS.md.)
  const threads = intraOpThreads > 0 ? intraOpThreads : provider === "cuda" ? 1 : 0;
  if (threads > 0) options.intraOpNumThreads = threads;
  // The session's threads share the cores with the threads parsing HTTP: they sleep between
  // parallel sections instead of spinning, which would take that time from them.
  options.extra = { session: { intra_op: { allow_spinning: "0" } } };
  return ort.InferenceSession.create(path, options);
}

/** Which file and variant each provider loads, and how to open them. */
export interface OpenSessionOptions {
  models: Record<Provider, { path: string; variant: Variant }>;
  device: Device;
  intraOpThreads: number;
  /** Names the bundle in errors. */
  where: string;
  outputName: string;
}

/**
 * Opens one ONNX Runtime session. `cuda` must work or it throws; `auto` tries CUDA first and falls
 * back to CPU, keeping the reason so that logs and metadata say why. Runs in a session thread
 * (session-thread.ts): the main thread never loads onnxruntime-node.
 */
export async function openSession(opts: OpenSessionOptions): Promise<OnnxModel> {
  let provider: Provider = opts.device === "cpu" ? "cpu" : "cuda";
  let fallbackReason: string | undefined;
  let session: Ort.InferenceSession;
  try {
    session = await createSession(opts.models[provider].path, provider, opts.intraOpThreads);
  } catch (error) {
    if (opts.device !== "auto") throw error;
    fallbackReason = `CUDA execution provider unavailable: ${(error as Error).message.split("\n")[0]}`;
    provider = "cpu";
    session = await createSession(opts.models[provider].path, provider, opts.intraOpThreads);
  }
  checkSessionSignature(opts.where, session);
  const { outputName } = opts;
  const model: OnnxModel = {
    provider,
    variant: opts.models[provider].variant,
    async run(batch: RunBatch): Promise<Float32Array> {
      const runPart = async (rows: number, seqLength: number, offset: number): Promise<Float32Array> => {
        const shape = [rows, seqLength];
        const end = offset + rows * seqLength;
        const feeds = {
          input_ids: new ort.Tensor("int64", batch.inputIds.subarray(offset, end), shape),
          attention_mask: new ort.Tensor("int64", batch.attentionMask.subarray(offset, end), shape),
        };
        const result = await session.run(feeds, [outputName]);
        const logits = result[outputName];
        if (!logits || !(logits.data instanceof Float32Array))
          throw new Error(`model output ${outputName} is ${logits?.type ?? "missing"}, expected float32`);
        return logits.data;
      };
      if (batch.parts === undefined) return runPart(batch.rows, batch.seqLength, 0);
      // A run split by length: its parts one after the other, outputs concatenated in part order.
      const outputs: Float32Array[] = [];
      let offset = 0;
      for (const part of batch.parts) {
        outputs.push(await runPart(part.rows, part.seqLength, offset));
        offset += part.rows * part.seqLength;
      }
      const out = new Float32Array(outputs.reduce((n, o) => n + o.length, 0));
      let at = 0;
      for (const o of outputs) {
        out.set(o, at);
        at += o.length;
      }
      return out;
    },
    release: () => session.release(),
  };
  if (fallbackReason !== undefined) model.fallbackReason = fallbackReason;
  return model;
}

/**
 * Runs shapes once so the first real requests do not pay for kernel selection and memory arena
 * growth: every shape bucket when runs are padded to them (`shapes`), else the common shapes,
 * batch 1/8/32/max × sequence 16/32/64, within the token budget.
 */
export async function warmUp(
  model: OnnxModel,
  limits: {
    maxBatchSize: number;
    maxBatchTokens: number;
    maxSeqLength: number;
    clsId: bigint;
    shapes?: readonly [number, number][];
    /** The vocab's largest id: one probe row holds it, so a model with fewer embedding rows than its
     * vocab has entries is refused at load, not with a 500 on every request that uses that id. */
    maxId?: bigint;
    /** The labels the bundle names: the probe's logits must have as many columns. */
    labelCount?: number;
  },
): Promise<number> {
  if (limits.maxId !== undefined) {
    const probe = new BigInt64Array([limits.clsId, limits.maxId, limits.clsId]);
    const logits = await model
      .run({ rows: 1, seqLength: 3, inputIds: probe, attentionMask: new BigInt64Array(3).fill(1n) })
      .catch((error: unknown) => {
        throw new Error(
          `the model fails on token id ${limits.maxId}, its vocab's last (the model may have fewer embedding rows than the vocab has entries): ${(error as Error).message}`,
        );
      });
    if (limits.labelCount !== undefined && logits.length !== limits.labelCount)
      throw new Error(
        `the model gives ${logits.length} logits per text, the bundle names ${limits.labelCount} labels`,
      );
  }
  const batches = [...new Set([1, 8, 32, limits.maxBatchSize])].filter((b) => b <= limits.maxBatchSize);
  const lengths = [16, 32, 64].filter((s) => s <= limits.maxSeqLength);
  const shapes =
    limits.shapes ??
    batches.flatMap((rows) =>
      lengths.filter((s) => rows * s <= limits.maxBatchTokens).map((s): [number, number] => [rows, s]),
    );
  for (const [rows, seqLength] of shapes) {
    const inputIds = new BigInt64Array(rows * seqLength).fill(limits.clsId);
    const attentionMask = new BigInt64Array(rows * seqLength).fill(1n);
    await model.run({ rows, seqLength, inputIds, attentionMask });
  }
  return shapes.length;
}

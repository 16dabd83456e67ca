/**
 * What one model run is made of: unpadded rows in, a padded row-major batch to the run function, and
 * its outputs scattered back to the requests the rows came from. Pure data, no scheduling (that is
 * batcher.ts's).
 */
import type { Pending } from "./request-queue.ts";

/** One input row, unpadded: `ids.length === mask.length` is the row's length. */
export interface Row {
  ids: BigInt64Array;
  mask: BigInt64Array;
}

/** A padded [rows, seqLength] block of a run (see RunBatch.parts). */
export interface RunPart {
  rows: number;
  seqLength: number;
}

/**
 * What one model run receives: row-major [rows, seqLength] tensors, padded. A run split by length
 * (length-split.ts) has `parts`: the tensors are the parts' blocks one after the other, each
 * [part.rows, part.seqLength]; the backend runs them in order and returns their outputs in the same
 * order; `rows` is then the parts' total and `seqLength` the longest part's.
 */
export interface RunBatch {
  rows: number;
  seqLength: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  parts?: readonly RunPart[];
}

/** What one finished run reports (metrics): real rows, padded tokens, parts, duration, success. */
export interface RunReport {
  rows: number;
  tokens: number;
  parts: number;
  ms: number;
  ok: boolean;
}

/** Padded tokens of a run: what the device computes. */
export function runTokens(batch: Pick<RunBatch, "rows" | "seqLength" | "parts">): number {
  if (batch.parts === undefined) return batch.rows * batch.seqLength;
  let tokens = 0;
  for (const p of batch.parts) tokens += p.rows * p.seqLength;
  return tokens;
}

/** Runs the model; resolves with row-major outputs [rows, width]. */
export type RunFunction = (batch: RunBatch) => Promise<Float32Array>;

/** One row taken into a run: the request it belongs to and its index there. */
export interface Taken {
  pending: Pending;
  index: number;
}

/**
 * Pads rows to `seqLength` into row-major [runRows, seqLength] ids and mask (ids padded with
 * `padId`). Rows past the real ones (shape buckets) are dummies: one attended padding token each, so
 * no row of the run is empty; their outputs are never delivered.
 */
export function padRows(
  rows: readonly Row[],
  seqLength: number,
  padId: bigint,
  runRows = rows.length,
): { inputIds: BigInt64Array; attentionMask: BigInt64Array } {
  const inputIds = new BigInt64Array(runRows * seqLength);
  const attentionMask = new BigInt64Array(runRows * seqLength);
  if (padId !== 0n) inputIds.fill(padId);
  padInto(inputIds, attentionMask, rows, seqLength, runRows);
  return { inputIds, attentionMask };
}

/**
 * padRows into given blocks (ids already filled with the padding id, mask with 0): how a run in parts
 * writes each part into its share of the run's tensors.
 */
export function padInto(
  inputIds: BigInt64Array,
  attentionMask: BigInt64Array,
  rows: readonly Row[],
  seqLength: number,
  runRows: number,
): void {
  for (const [r, row] of rows.entries()) {
    inputIds.set(row.ids, r * seqLength);
    attentionMask.set(row.mask, r * seqLength);
  }
  for (let r = rows.length; r < runRows; r++) attentionMask[r * seqLength] = 1n;
}

/**
 * Copies each output row of a run to its request; resolves the requests whose last row came back.
 * `runRows` ≥ taken.length: the run's rows, dummies included (their outputs are dropped). Taken row
 * r's output is row r of the run, or row `outputRows[r]` when given (a run in parts).
 */
export function deliverOutputs(
  taken: readonly Taken[],
  out: Float32Array,
  runRows = taken.length,
  outputRows?: Int32Array,
): void {
  const rows = runRows;
  const width = out.length / rows;
  if (!Number.isInteger(width) || width < 1)
    throw new Error(`model returned ${out.length} values for ${rows} rows`);
  for (const [r, { pending, index }] of taken.entries()) {
    if (pending.settled) continue;
    if (pending.output === null) {
      pending.output = new Float32Array(pending.rows.length * width);
      pending.width = width;
    }
    const o = outputRows === undefined ? r : outputRows[r]!;
    pending.output.set(out.subarray(o * width, (o + 1) * width), index * width);
    pending.done++;
    if (pending.done === pending.rows.length) {
      pending.settled = true;
      pending.cleanup();
      pending.resolve({ data: pending.output, width });
    }
  }
}

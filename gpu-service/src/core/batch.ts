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

/** What one model run receives: row-major [rows, seqLength] tensors, padded. */
export interface RunBatch {
  rows: number;
  seqLength: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
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
  for (const [r, row] of rows.entries()) {
    inputIds.set(row.ids, r * seqLength);
    attentionMask.set(row.mask, r * seqLength);
  }
  for (let r = rows.length; r < runRows; r++) attentionMask[r * seqLength] = 1n;
  return { inputIds, attentionMask };
}

/**
 * Copies each output row of a run to its request; resolves the requests whose last row came back.
 * `runRows` ≥ taken.length: the run's rows, dummies included (their outputs are dropped).
 */
export function deliverOutputs(taken: readonly Taken[], out: Float32Array, runRows = taken.length): void {
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
    pending.output.set(out.subarray(r * width, (r + 1) * width), index * width);
    pending.done++;
    if (pending.done === pending.rows.length) {
      pending.settled = true;
      pending.cleanup();
      pending.resolve({ data: pending.output, width });
    }
  }
}

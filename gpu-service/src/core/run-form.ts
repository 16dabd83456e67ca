/**
 * How rows become one model run: the padding policy (rounding, shape buckets) and the optional
 * length split. Pure data in, tensors out. The batcher forms its runs with it, and so does an HTTP
 * thread that runs a request directly on an idle model (router/http-thread.ts), so a text is padded
 * the same way whichever path it takes.
 */
import { padInto, padRows, type Row, type RunBatch } from "./batch.ts";
import { planLengthSplit } from "./length-split.ts";
import { bucketUp, type ShapeBuckets } from "./shape-buckets.ts";

/** Plain data (it crosses threads): how a model's runs are padded. */
export interface PaddingPolicy {
  /** Pad each run's length up to a multiple of this (1 = no rounding). */
  padMultiple: number;
  /** Never pad beyond this (the model's maximum sequence length). */
  maxSeqLength: number;
  /** Pad runs up to these row counts and lengths (shape-buckets.ts); absent: no buckets. */
  shapeBuckets?: ShapeBuckets;
  padId: bigint;
  /** Split a run of ≥ 2 × this many rows by length when that saves ≥ 10 % of its tokens; 0: never. */
  minSplitRows: number;
}

/** A formed run: its tensors and, for a run in parts, where each row's output comes back. */
export interface FormedRun {
  batch: RunBatch;
  /** Row r (in the given order) → its output row in the run; absent: row r → output row r. */
  outputRows?: Int32Array;
}

/** The length a run whose longest row has `longest` tokens is padded to. */
export function paddedLength(policy: PaddingPolicy, longest: number): number {
  const m = policy.padMultiple;
  const padded = Math.min(policy.maxSeqLength, Math.ceil(longest / m) * m);
  return policy.shapeBuckets ? bucketUp(policy.shapeBuckets.seq, padded) : padded;
}

/** The rows a run of `rows` real rows is padded to (dummy rows up to the row bucket). */
export function paddedRows(policy: PaddingPolicy, rows: number): number {
  return policy.shapeBuckets ? bucketUp(policy.shapeBuckets.rows, rows) : rows;
}

/**
 * Pads rows into one run, or into two parts by length when that saves enough padding
 * (length-split.ts). Outputs come back per `outputRows`.
 */
export function formRun(rows: readonly Row[], policy: PaddingPolicy): FormedRun {
  let longest = 0;
  for (const row of rows) longest = Math.max(longest, row.ids.length);
  if (policy.minSplitRows > 0 && rows.length >= 2 * policy.minSplitRows) {
    const lengths = Int32Array.from(rows, (r) => r.ids.length);
    const split = planLengthSplit(lengths, {
      minPartRows: policy.minSplitRows,
      minSaving: 0.1,
      shapeOf: (n, longestRow) => [paddedRows(policy, n), paddedLength(policy, longestRow)],
    });
    if (split !== null) {
      const { order, cut, tokens } = split;
      const counts = [cut, rows.length - cut];
      const parts = [
        { rows: paddedRows(policy, cut), seqLength: paddedLength(policy, lengths[order[cut - 1]!]!) },
        { rows: paddedRows(policy, rows.length - cut), seqLength: paddedLength(policy, longest) },
      ];
      // Part i holds the next counts[i] rows in length order, padded to its own shape; its dummy
      // rows follow its real ones. outputRows maps each row, in the caller's order, to its output.
      // (The planner's `tokens` are these parts' padded tokens.)
      const inputIds = new BigInt64Array(tokens);
      const attentionMask = new BigInt64Array(tokens);
      if (policy.padId !== 0n) inputIds.fill(policy.padId);
      const outputRows = new Int32Array(rows.length);
      let taken = 0;
      let outRow = 0;
      let offset = 0;
      parts.forEach((part, i) => {
        const positions = order.subarray(taken, taken + counts[i]!);
        const end = offset + part.rows * part.seqLength;
        padInto(
          inputIds.subarray(offset, end),
          attentionMask.subarray(offset, end),
          Array.from(positions, (r) => rows[r]!),
          part.seqLength,
          part.rows,
        );
        positions.forEach((r, j) => {
          outputRows[r] = outRow + j;
        });
        taken += counts[i]!;
        outRow += part.rows;
        offset = end;
      });
      return {
        batch: {
          rows: parts[0]!.rows + parts[1]!.rows,
          seqLength: parts[1]!.seqLength,
          inputIds,
          attentionMask,
          parts,
        },
        outputRows,
      };
    }
  }
  const seqLength = paddedLength(policy, longest);
  const runRows = paddedRows(policy, rows.length);
  const { inputIds, attentionMask } = padRows(rows, seqLength, policy.padId, runRows);
  return { batch: { rows: runRows, seqLength, inputIds, attentionMask } };
}

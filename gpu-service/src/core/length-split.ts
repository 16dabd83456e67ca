/**
 * Length split: a large run whose rows differ in length is run as two parts, its shorter rows in one
 * and its longer rows in the other, each padded only to its own longest row (and shape bucket).
 *
 * Why: a run pads every row to its longest. With rows of 6-20 tokens (MASSIVE's range), a run of
 * 1,024 rows pads to 20 and about a third of its tokens are padding; the GPU computes them all. Cut
 * at the best place, the same rows take ~15 % fewer tokens in two parts of a few hundred rows each,
 * which still fill an H100. The parts run one after the other on the run's session thread, so the
 * batcher's slots and in-flight limit are unchanged; small runs (under 2 × `minPartRows`) are never
 * split, since there a second run's fixed cost outweighs the padding it saves.
 *
 * Pure and linear: a counting sort over lengths (≤ the model's maximum), one scan over cut points.
 */

export interface LengthSplitOptions {
  /** Neither part may have fewer real rows than this. */
  minPartRows: number;
  /** Split only if it saves at least this fraction of the run's padded tokens (0-1). */
  minSaving: number;
  /** The padded [rows, seqLength] of a part of `rows` real rows whose longest row has `longest` tokens. */
  shapeOf: (rows: number, longest: number) => [number, number];
}

export interface LengthSplit {
  /** Positions into the rows, shortest first (stable): the first `cut` form part one. */
  order: Int32Array;
  cut: number;
  /** Padded tokens of the two parts, and of the run unsplit. */
  tokens: number;
  unsplitTokens: number;
}

/** Row positions sorted by length, shortest first, stable (counting sort: O(rows + longest)). */
export function orderByLength(lengths: ArrayLike<number>): Int32Array {
  let longest = 0;
  for (let i = 0; i < lengths.length; i++) longest = Math.max(longest, lengths[i]!);
  const starts = new Int32Array(longest + 2);
  for (let i = 0; i < lengths.length; i++) starts[lengths[i]! + 1]!++;
  for (let l = 1; l < starts.length; l++) starts[l]! += starts[l - 1]!;
  const order = new Int32Array(lengths.length);
  for (let i = 0; i < lengths.length; i++) order[starts[lengths[i]!]!++] = i;
  return order;
}

/** The cut that pads least, or null when no cut saves enough (or the run is too small to split). */
export function planLengthSplit(lengths: ArrayLike<number>, opts: LengthSplitOptions): LengthSplit | null {
  const n = lengths.length;
  const { minPartRows, minSaving, shapeOf } = opts;
  if (minPartRows < 1 || n < 2 * minPartRows) return null;
  const order = orderByLength(lengths);
  const longest = lengths[order[n - 1]!]!;
  const tokensOf = (rows: number, longestRow: number): number => {
    const [r, s] = shapeOf(rows, longestRow);
    return r * s;
  };
  const unsplitTokens = tokensOf(n, longest);
  let best = -1;
  let bestTokens = Number.POSITIVE_INFINITY;
  for (let cut = minPartRows; cut <= n - minPartRows; cut++) {
    const tokens = tokensOf(cut, lengths[order[cut - 1]!]!) + tokensOf(n - cut, longest);
    if (tokens < bestTokens) {
      bestTokens = tokens;
      best = cut;
    }
  }
  if (best < 0 || bestTokens > unsplitTokens * (1 - minSaving)) return null;
  return { order, cut: best, tokens: bestTokens, unsplitTokens };
}

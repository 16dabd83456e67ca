/**
 * Shape buckets: the few run shapes [rows, seqLength] a model sees when --shape-buckets is on.
 *
 * Why: on CUDA, ONNX Runtime's first run of a new input shape is slow. Measured on an H100 with the
 * full-size DistilBERT bench bundle (`ort-ceiling --varied`): a shape's first run took a median of
 * 49.7 ms, a repeat 1.1 ms. Many single-text requests make runs of every size from 1 to hundreds of
 * rows and every length from 6 to 20 tokens, so most runs were first runs. With buckets, a run is
 * padded up to the next bucket in both dimensions (dummy rows, padding tokens), and every bucket
 * shape is run once while the session warms up, before the service reports ready.
 *
 * Rows: 1, 2, 3, 4, 6, 8, 12, 16, 24, … (from 2 on, each at most 1.5× the previous), and the maximum.
 * Lengths: 8, then every 2 up to 16, every 4 up to 32, every 8 up to 64, every 16 beyond, and the maximum:
 * at most 18 % padding for a run whose longest row has 8-20 tokens, none at 20 (MASSIVE rows have
 * 6-20, and a large run nearly always holds a 20).
 */

export interface ShapeBuckets {
  rows: readonly number[];
  seq: readonly number[];
}

/** 1, 2, 3, 4, 6, 8, 12, … up to `max` (always included). */
export function rowBuckets(max: number): number[] {
  const out: number[] = [];
  for (let p = 1; p <= max; p *= 2) {
    out.push(p);
    const between = p + p / 2;
    if (p >= 2 && between <= max) out.push(between);
  }
  if (out[out.length - 1] !== max) out.push(max);
  return [...new Set(out)].sort((a, b) => a - b);
}

/**
 * 8, 10, …, 16, 20, …, 32, 40, …, 64, 80, … up to `max` (always included). Nothing shorter than 8:
 * some graphs cannot run very short rows on CUDA (the default bundle's n-gram member reduces over
 * length − 2 positions, and CUDA's ReduceSum refuses an empty axis), and real rows are [CLS] … [SEP].
 */
export function seqBuckets(max: number): number[] {
  const out: number[] = [];
  for (let s = Math.min(8, max); s <= max; s += s < 16 ? 2 : s < 32 ? 4 : s < 64 ? 8 : 16) out.push(s);
  if (out[out.length - 1] !== max) out.push(max);
  return out;
}

export function shapeBuckets(maxRows: number, maxSeqLength: number): ShapeBuckets {
  return { rows: rowBuckets(maxRows), seq: seqBuckets(maxSeqLength) };
}

/** The smallest bucket ≥ n (the largest bucket when n is beyond them all). */
export function bucketUp(buckets: readonly number[], n: number): number {
  for (const b of buckets) if (b >= n) return b;
  return buckets[buckets.length - 1]!;
}

/** Every bucket shape within the token budget, smallest first: what a session runs to warm up. */
export function bucketShapes(buckets: ShapeBuckets, maxBatchTokens: number): [number, number][] {
  const shapes: [number, number][] = [];
  for (const rows of buckets.rows)
    for (const seq of buckets.seq) if (rows * seq <= maxBatchTokens) shapes.push([rows, seq]);
  return shapes;
}

export type ShapeBucketsMode = "auto" | "on" | "off";

/** --shape-buckets: `auto` is on for CUDA (where a new shape is slow), off for CPU. */
export function useShapeBuckets(mode: ShapeBucketsMode, provider: string): boolean {
  return mode === "on" || (mode === "auto" && provider === "cuda");
}

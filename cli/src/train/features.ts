/**
 * The features of the custom-intent recipe: a text's WordPiece ids (with [CLS] and [SEP], exactly as
 * the edge sends them) as unigrams, plus hashed bigrams of neighbouring pieces. Unigrams go through a
 * table from vocabulary id to a compact row (only the pieces seen in training get a row; the others
 * share row 0, which stays zero), so the model holds rows for what it learnt, not for the 30,522 of
 * the vocabulary. onnx-graph.ts computes the same features inside the exported graph; the trainer
 * checks that both give the same logits.
 */

/** A prime multiplier for the bigram hash: (a · PRIME + b) mod buckets, exact in float64 and int64. */
export const BIGRAM_PRIME = 1_000_003;

export interface FeatureSpace {
  /** Vocabulary id → unigram row; 0 for pieces unseen in training (a zero row). */
  remap: Int32Array;
  /** Unigram rows, row 0 included. */
  unigramRows: number;
  /** Hash buckets for bigrams; bigram rows follow the unigram rows. */
  bigramBuckets: number;
}

/** Rows of the embedding table that a text's features use (unigrams, then bigrams), repeats kept. */
export function featureRows(ids: readonly number[], space: FeatureSpace): number[] {
  const rows: number[] = [];
  for (const id of ids) rows.push(space.remap[id] ?? 0);
  const unigrams = rows.length;
  for (let i = 0; i + 1 < unigrams; i++)
    rows.push(space.unigramRows + ((rows[i]! * BIGRAM_PRIME + rows[i + 1]!) % space.bigramBuckets));
  return rows;
}

/**
 * The feature space of a training set: a row for every piece it contains, and bigram buckets at the
 * next power of two above twice its distinct bigrams (between 256 and 32,768), so that collisions
 * stay rare without a table much larger than the data.
 */
export function buildFeatureSpace(vocabSize: number, texts: readonly (readonly number[])[]): FeatureSpace {
  const remap = new Int32Array(vocabSize);
  let next = 1;
  const bigrams = new Set<number>();
  for (const ids of texts) {
    for (const id of ids) if (remap[id] === 0) remap[id] = next++;
    for (let i = 0; i + 1 < ids.length; i++)
      bigrams.add(remap[ids[i]!]! * BIGRAM_PRIME + remap[ids[i + 1]!]!);
  }
  let buckets = 256;
  while (buckets < 2 * bigrams.size && buckets < 32_768) buckets *= 2;
  return { remap, unigramRows: next, bigramBuckets: buckets };
}

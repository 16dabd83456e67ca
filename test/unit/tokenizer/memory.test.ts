import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { parseVocabTxt } from "@intentql/tokenizer";
import { loadBertBaseUncasedVocabTxt } from "@intentql/tokenizer/bert-base-uncased";
import { describe, expect, it } from "vitest";
import {
  BertWordPieceTokenizer,
  CHAR_CACHE_BYTES,
  DEFAULT_WORD_CACHE_BYTES,
  type TokenizerCacheStats,
} from "../../../tokenizer/src/bert-wordpiece.ts";
import { mulberry32 } from "../../support/prng.ts";

// The tokenizer runs in a Worker isolate of 128 MB; its caches together must stay under this.
const BUDGET = 8 * 1024 * 1024;
// Large enough that no adversarial text below is truncated: every character reaches the caches.
const NO_TRUNCATION = 100_000;

const vocab = parseVocabTxt(loadBertBaseUncasedVocabTxt());

// `global.gc` is not exposed under vitest; the flag can still be turned on at run time, and a fresh
// context then sees `gc`. Heap figures are only meaningful after a full collection.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
function liveHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Deterministic PRNG, so failures reproduce. */
const prng = mulberry32;

function randomWord(random: () => number, length: number): string {
  const codes: number[] = [];
  for (let i = 0; i < length; i++) codes.push(97 + Math.floor(random() * 26));
  return String.fromCharCode(...codes);
}

/**
 * `count` distinct astral code points from `first` (200,000 from U+10000: all of planes 1 and 2, then
 * plane 3), 4 to a word, in texts of at most 2,000 UTF-16 units.
 */
function* astralTexts(first = 0x10000, count = 200_000): Generator<string> {
  let text = "";
  for (let k = 0; k < count; k++) {
    text += String.fromCodePoint(first + k);
    if (k % 4 === 3) text += " ";
    if (text.length >= 1990) {
      yield text;
      text = "";
    }
  }
  if (text !== "") yield text;
}

/** Distinct 2,000-character words, one per text: each is [UNK] (over 100 code points). */
function* longWordTexts(count: number, seed: number): Generator<string> {
  const random = prng(seed);
  for (let k = 0; k < count; k++) yield randomWord(random, 2000);
}

/** Distinct words of exactly 100 code points: the longest that are cached. */
function* maxWordTexts(count: number, seed: number): Generator<string> {
  const random = prng(seed);
  for (let k = 0; k < count; k += 10) {
    const words: string[] = [];
    for (let j = 0; j < 10; j++) words.push(randomWord(random, 100));
    yield words.join(" ");
  }
}

/** Many distinct ordinary-looking words (several pieces each), 200 per text. */
function* ordinaryWordTexts(count: number, seed: number): Generator<string> {
  const random = prng(seed);
  for (let k = 0; k < count; k += 200) {
    const words: string[] = [];
    for (let j = 0; j < 200; j++) words.push(randomWord(random, 3 + Math.floor(random() * 10)));
    yield words.join(" ");
  }
}

const FILLER = "x".repeat(1979);
/**
 * A distinct 20-character word in a 2,000-character text whose rest is one long (uncached) word. If
 * the cache kept the word as a view into the text, each entry would keep 2 KB alive.
 */
function* slicedWordTexts(count: number, seed: number): Generator<string> {
  const random = prng(seed);
  for (let k = 0; k < count; k++) yield `${randomWord(random, 20)} ${FILLER}`;
}

function expectWithinBudgets(stats: TokenizerCacheStats, wordBudget = DEFAULT_WORD_CACHE_BYTES): void {
  expect(stats.wordBytes).toBeLessThanOrEqual(wordBudget);
  expect(stats.charBytes).toBeLessThanOrEqual(CHAR_CACHE_BYTES);
  expect(stats.wordBytes + stats.charBytes).toBeLessThanOrEqual(BUDGET);
}

interface Run {
  /** Every `sampleEvery`-th text with its ids, to compare across tokenizers. */
  sample: Array<{ text: string; ids: number[] }>;
  peakWordEntries: number;
  peakCharEntries: number;
}

/** Encodes every text, checking the budgets after each one. */
function run(tokenizer: BertWordPieceTokenizer, texts: Iterable<string>, sampleEvery = 20): Run {
  const result: Run = { sample: [], peakWordEntries: 0, peakCharEntries: 0 };
  let k = 0;
  for (const text of texts) {
    const { ids } = tokenizer.encode(text, NO_TRUNCATION);
    const stats = tokenizer.cacheStats();
    expectWithinBudgets(stats);
    result.peakWordEntries = Math.max(result.peakWordEntries, stats.wordEntries);
    result.peakCharEntries = Math.max(result.peakCharEntries, stats.charEntries);
    if (k++ % sampleEvery === 0) result.sample.push({ text, ids });
  }
  return result;
}

describe("tokenizer caches under adversarial input", () => {
  it("stay within their byte budgets, by the estimate and by the live heap", () => {
    // Warm-up on another instance, so that compiled code is not counted as growth below.
    const warm = new BertWordPieceTokenizer(vocab);
    run(warm, maxWordTexts(100, 9));
    run(warm, ordinaryWordTexts(2000, 9));
    run(warm, slicedWordTexts(100, 9));
    warm.encode("😀 𝔞 東京 Crème", NO_TRUNCATION);

    const tokenizer = new BertWordPieceTokenizer(vocab);
    const before = liveHeap();
    const runs = [
      run(tokenizer, astralTexts(), 1_000_000),
      run(tokenizer, longWordTexts(3000, 1), 1_000_000),
      run(tokenizer, maxWordTexts(10_000, 2), 1_000_000),
      run(tokenizer, ordinaryWordTexts(200_000, 3), 1_000_000),
      run(tokenizer, slicedWordTexts(20_000, 4), 1_000_000),
    ];
    const grown = liveHeap() - before;

    const stats = tokenizer.cacheStats();
    expectWithinBudgets(stats);
    // The budgets were reached and the caches cleared: 200,000 characters cannot all be held.
    const peakCharEntries = Math.max(...runs.map((r) => r.peakCharEntries));
    expect(peakCharEntries).toBeGreaterThan(1000);
    expect(peakCharEntries).toBeLessThan(200_000);
    expect(Math.max(...runs.map((r) => r.peakWordEntries))).toBeGreaterThan(1000);
    // Cross-check of the estimate: what the heap really kept. Without the bounds this is over 20 MB
    // (the character cache alone), and keeping cached words as views into their texts adds 2 KB a word.
    expect(grown).toBeLessThan(BUDGET);
  });

  it("estimate the word cache's bytes at least as high as the heap it really keeps", () => {
    for (const texts of [ordinaryWordTexts(25_000, 5), slicedWordTexts(10_000, 6), maxWordTexts(5000, 7)]) {
      const tokenizer = new BertWordPieceTokenizer(vocab, { wordCacheBytes: 64 * 1024 * 1024 });
      const before = liveHeap();
      let k = 0;
      for (const text of texts) k += tokenizer.encode(text, NO_TRUNCATION).ids.length;
      const grown = liveHeap() - before;
      const stats = tokenizer.cacheStats();
      expect(k).toBeGreaterThan(0);
      expect(stats.wordEntries).toBeGreaterThan(4000);
      // Tolerance for the collector's own bookkeeping; the entries are 0.4–2.4 MB here.
      expect(grown).toBeLessThanOrEqual(stats.wordBytes + 128 * 1024);
    }
  });

  it("give the same ids with the caches enabled, disabled, tiny, or just cleared", () => {
    const enabled = new BertWordPieceTokenizer(vocab);
    const disabled = new BertWordPieceTokenizer(vocab, { wordCacheBytes: 0 });
    const deprecatedOff = new BertWordPieceTokenizer(vocab, { wordCacheSize: 0 });
    const tiny = new BertWordPieceTokenizer(vocab, { wordCacheBytes: 2048 });
    const fixed = [
      "Wake me up at 5am",
      "Crème\u0007Brûlée 東京 ΣΣ İstanbul ﬁne １２３ 😀 𝔞𝔟 e\u0301 \u037e",
      "the [MASK] is playing music music music",
      `${"a".repeat(100)} ${"a".repeat(101)} ${"😀".repeat(101)}`,
    ];
    const sample = [
      ...fixed.map((text) => ({ text, ids: enabled.encode(text, NO_TRUNCATION).ids })),
      ...run(enabled, astralTexts(0x1f000, 30_000)).sample,
      ...run(enabled, longWordTexts(200, 11)).sample,
      ...run(enabled, maxWordTexts(3000, 12)).sample,
      ...run(enabled, ordinaryWordTexts(60_000, 13)).sample,
      ...run(enabled, slicedWordTexts(1000, 14)).sample,
    ];
    expect(sample.length).toBeGreaterThan(50);
    for (const { text, ids } of sample) {
      expect(disabled.encode(text, NO_TRUNCATION).ids).toEqual(ids);
      expect(deprecatedOff.encode(text, NO_TRUNCATION).ids).toEqual(ids);
      expect(tiny.encode(text, NO_TRUNCATION).ids).toEqual(ids);
      // A second pass answers from the caches where the first filled them.
      expect(enabled.encode(text, NO_TRUNCATION).ids).toEqual(ids);
      expectWithinBudgets(tiny.cacheStats(), 2048);
    }
    for (const tokenizer of [disabled, deprecatedOff]) expect(tokenizer.cacheStats().wordEntries).toBe(0);
    // After all the clearing, the same pieces as with no cache at all (parity.test.ts ties those to
    // Hugging Face).
    const odd = "Crème\u0007Brûlée 東京 supercalifragilistic";
    expect(enabled.encode(odd, NO_TRUNCATION).ids).toEqual(disabled.encode(odd, NO_TRUNCATION).ids);
  });

  it("answer a word over maxInputCharsPerWord with [UNK] and never cache it", () => {
    const tokenizer = new BertWordPieceTokenizer(vocab);
    const unk = [vocab.clsId, vocab.unkId, vocab.sepId];
    const longWords = [
      "a".repeat(101),
      "😀".repeat(101),
      "é".repeat(150),
      // Built from uppercase and non-ASCII pieces, the other two ways a word is assembled.
      `${"AbC".repeat(40)}é`,
      ...longWordTexts(300, 21),
    ];
    for (const word of longWords) {
      expect(tokenizer.encode(word).ids).toEqual(unk);
      expect(tokenizer.cacheStats().wordEntries).toBe(0);
      expect(tokenizer.cacheStats().wordBytes).toBe(0);
    }
    // The longest cached word is exactly maxInputCharsPerWord code points.
    expect(tokenizer.encode("a".repeat(100)).ids).not.toContain(vocab.unkId);
    expect(tokenizer.cacheStats().wordEntries).toBe(1);

    const five = new BertWordPieceTokenizer(vocab, { maxInputCharsPerWord: 5 });
    expect(five.encode("music").ids).toEqual([vocab.clsId, vocab.ids.get("music"), vocab.sepId]);
    expect(five.cacheStats().wordEntries).toBe(1);
    expect(five.encode("musics").ids).toEqual(unk);
    expect(five.encode("𝔞𝔟𝔠𝔡𝔢𝔣").ids).toEqual(unk);
    expect(five.cacheStats().wordEntries).toBe(1);
  });
});

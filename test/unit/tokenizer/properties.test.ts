import { BertWordPieceTokenizer, parseVocabTxt } from "@intentql/tokenizer";
import { loadBertBaseUncasedVocabTxt } from "@intentql/tokenizer/bert-base-uncased";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const vocab = parseVocabTxt(loadBertBaseUncasedVocabTxt());
const tokenizer = new BertWordPieceTokenizer(vocab);
// A tiny cache forces the clear-and-refill path to run inside the properties too.
const smallCacheTokenizer = new BertWordPieceTokenizer(vocab, { wordCacheSize: 3 });

/** Any UTF-16 string, lone surrogates included, plus mixes of the characters that matter most. */
const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.string({ unit: "grapheme", maxLength: 200 }),
  fc.string({
    unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
    maxLength: 200,
  }),
  fc
    .array(
      fc.constantFrom(
        "play",
        "Music",
        " ",
        "\t",
        "é",
        "e\u0301",
        "[MASK]",
        "##",
        "你",
        "😀",
        "\u0000",
        "\u200b",
        "\ufffd",
        "ΣΣ",
        "İ",
        "ﬁ",
        "!",
        "a".repeat(101),
        "\ud800",
        "\udc00",
        "𝔞",
        "１",
      ),
      { maxLength: 80 },
    )
    .map((parts) => parts.join("")),
);
const maxLength = fc.integer({ min: 2, max: 160 });

describe("BertWordPieceTokenizer properties", () => {
  it("never throws, stays in the vocab, respects maxLength, and frames with [CLS] … [SEP]", () => {
    fc.assert(
      fc.property(anyText, maxLength, (text, max) => {
        const { ids, truncated } = tokenizer.encode(text, max);
        expect(ids.length).toBeLessThanOrEqual(max);
        expect(ids.length).toBeGreaterThanOrEqual(2);
        expect(ids[0]).toBe(vocab.clsId);
        expect(ids[ids.length - 1]).toBe(vocab.sepId);
        for (const id of ids) {
          expect(Number.isInteger(id) && id >= 0 && id < vocab.size).toBe(true);
        }
        // Only the framing tokens are control tokens; user text never produces one.
        expect(
          ids.slice(1, -1).some((id) => id === vocab.clsId || id === vocab.sepId || id === vocab.maskId),
        ).toBe(false);
        if (!truncated) expect(ids.length).toBeLessThanOrEqual(max);
      }),
      { numRuns: 2000 },
    );
  });

  it("is deterministic and independent of cache state", () => {
    fc.assert(
      fc.property(anyText, maxLength, (text, max) => {
        const first = tokenizer.encode(text, max);
        expect(tokenizer.encode(text, max)).toEqual(first);
        expect(smallCacheTokenizer.encode(text, max)).toEqual(first);
      }),
      { numRuns: 1000 },
    );
  });

  it("sets truncated exactly when the untruncated encoding is longer than maxLength", () => {
    fc.assert(
      fc.property(anyText, maxLength, (text, max) => {
        const full = tokenizer.encode(text, 100_000).ids;
        const { ids, truncated } = tokenizer.encode(text, max);
        expect(truncated).toBe(full.length > max);
        // Hugging Face truncation keeps the first max-2 pieces, then [SEP].
        const expected = truncated ? [...full.slice(0, max - 1), vocab.sepId] : full;
        expect(ids).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it("encodeBatch rows equal encode(), with [PAD] and a zero mask after each row", () => {
    fc.assert(
      fc.property(fc.array(anyText, { maxLength: 12 }), maxLength, (texts, max) => {
        const batch = tokenizer.encodeBatch(texts, max);
        const rows = texts.map((text) => tokenizer.encode(text, max));
        expect(batch.batchSize).toBe(texts.length);
        expect(batch.seqLength).toBe(Math.max(0, ...rows.map((row) => row.ids.length)));
        expect(batch.inputIds.length).toBe(batch.batchSize * batch.seqLength);
        expect(batch.attentionMask.length).toBe(batch.batchSize * batch.seqLength);
        expect(batch.truncated).toEqual(rows.map((row) => row.truncated));
        rows.forEach((row, r) => {
          expect(batch.lengths[r]).toBe(row.ids.length);
          for (let s = 0; s < batch.seqLength; s++) {
            const inRow = s < row.ids.length;
            expect(batch.inputIds[r * batch.seqLength + s]).toBe(BigInt(inRow ? row.ids[s]! : vocab.padId));
            expect(batch.attentionMask[r * batch.seqLength + s]).toBe(inRow ? 1n : 0n);
          }
        });
      }),
      { numRuns: 300 },
    );
  });
});

describe("BertWordPieceTokenizer examples", () => {
  const pieces = (text: string, max = 128) => tokenizer.encode(text, max).ids.map((id) => vocab.tokens[id]);

  it("treats a literal special token as text", () => {
    expect(pieces("the [MASK] is")).toEqual(["[CLS]", "the", "[", "mask", "]", "is", "[SEP]"]);
  });

  it("limits words to 100 code points", () => {
    expect(pieces("a".repeat(100))).not.toContain("[UNK]");
    expect(pieces("a".repeat(101))).toEqual(["[CLS]", "[UNK]", "[SEP]"]);
    // 100 astral characters are 200 UTF-16 units but still 100 code points.
    expect(pieces("😀".repeat(100))).toEqual(["[CLS]", "[UNK]", "[SEP]"]);
  });

  it("strips accents, lowercases, spaces CJK and drops controls (ids checked against Hugging Face)", () => {
    expect(pieces("Crème\u0007Brûlée 東京")).toEqual([
      "[CLS]",
      "cr",
      "##eme",
      "##br",
      "##ule",
      "##e",
      "東",
      "京",
      "[SEP]",
    ]);
  });

  it("rejects a maxLength without room for [CLS] and [SEP]", () => {
    expect(() => tokenizer.encode("x", 1)).toThrow(RangeError);
    expect(() => tokenizer.encodeBatch(["x"], 1.5)).toThrow(RangeError);
  });

  it("packs an empty batch", () => {
    const batch = tokenizer.encodeBatch([]);
    expect(batch.batchSize).toBe(0);
    expect(batch.inputIds.length).toBe(0);
  });
});

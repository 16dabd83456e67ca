import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";
import type { Vocab } from "@intentql/tokenizer";
import { bertCharacterClass } from "../../../tokenizer/src/bert-wordpiece.ts";

export const MASSIVE_DIR = fileURLToPath(new URL("../../../data/massive-en/", import.meta.url));

export function readMassive(
  split: "train" | "validation" | "test",
  dir = MASSIVE_DIR,
): Array<{ id: string; text: string }> {
  return readFileSync(`${dir}${split}.jsonl`, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const row = JSON.parse(line) as { id: string | number; text: string };
      return { id: String(row.id), text: row.text };
    });
}

/**
 * `@huggingface/tokenizers` (the pure-JS port) configured as bert-base-uncased's tokenizer.json, but
 * with no added tokens, so that a literal "[MASK]" is ordinary text as in our tokenizer. The port has
 * no truncation of its own; `encode` applies Hugging Face's (keep the first maxLength-2 pieces).
 */
export function makeHfJsTokenizer(vocab: Vocab): { encode(text: string, maxLength: number): number[] } {
  const tokenizer = new Tokenizer(
    {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: {
        type: "BertNormalizer",
        clean_text: true,
        handle_chinese_chars: true,
        strip_accents: null,
        lowercase: true,
      },
      pre_tokenizer: { type: "BertPreTokenizer" },
      post_processor: {
        type: "TemplateProcessing",
        single: [
          { SpecialToken: { id: "[CLS]", type_id: 0 } },
          { Sequence: { id: "A", type_id: 0 } },
          { SpecialToken: { id: "[SEP]", type_id: 0 } },
        ],
        pair: [],
        special_tokens: {
          "[CLS]": { id: "[CLS]", ids: [vocab.clsId], tokens: ["[CLS]"] },
          "[SEP]": { id: "[SEP]", ids: [vocab.sepId], tokens: ["[SEP]"] },
        },
      },
      decoder: { type: "WordPiece", prefix: "##", cleanup: true },
      model: {
        type: "WordPiece",
        unk_token: "[UNK]",
        continuing_subword_prefix: "##",
        max_input_chars_per_word: 100,
        vocab: Object.fromEntries(vocab.ids),
      },
    },
    { do_lower_case: true },
  );
  return {
    encode(text, maxLength) {
      const ids = tokenizer.encode(text).ids;
      if (ids.length <= maxLength) return ids;
      return [...ids.slice(0, maxLength - 1), vocab.sepId];
    },
  };
}

const jsControl = /[\p{Cc}\p{Cf}\p{Co}]/u;
const jsPunctuation = /[\p{P}\u0021-\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007E]/u;
const jsNonspacing = /\p{Mn}/u;

/**
 * Where the JS port is known to differ from Hugging Face's Rust tokenizer (and so from ours):
 * - it classifies characters with the JS engine's current Unicode tables, while the Rust crate uses
 *   older ones (e.g. U+2E43..U+2E5D are punctuation for JS only, U+166D for Rust only);
 * - it lowercases the whole string, so a final capital sigma becomes ς, where Rust maps each
 *   character (σ);
 * - it spaces CJK only in the BMP (it reads UTF-16 units), and starts one range at U+2B820 instead
 *   of U+2B920.
 */
export function hasKnownHfJsDivergence(text: string): boolean {
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    const ours = bertCharacterClass(cp);
    if (cp === 0x03a3) return true;
    if (cp > 0xffff && (ours.cjk || (cp >= 0x2b820 && cp <= 0x2b91f))) return true;
    const jsDropped =
      cp !== 9 && cp !== 10 && cp !== 13 && (cp === 0 || cp === 0xfffd || jsControl.test(char));
    if (jsDropped !== ours.dropped) return true;
    if (jsPunctuation.test(char) !== ours.punctuation) return true;
    for (const part of char.normalize("NFD")) {
      if (jsNonspacing.test(part) !== bertCharacterClass(part.codePointAt(0)!).nonspacingMark) return true;
    }
  }
  return false;
}

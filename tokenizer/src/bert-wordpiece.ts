import {
  DROPPED_RANGES,
  NONSPACING_MARK_RANGES,
  PUNCTUATION_RANGES,
  WHITESPACE_RANGES,
} from "./unicode-tables.ts";
import type { Vocab } from "./vocab.ts";

/**
 * BERT uncased WordPiece, id-for-id equal to Hugging Face `BertTokenizerFast` (do_lower_case=True,
 * strip_accents following lowercase, tokenize_chinese_chars=True, max_input_chars_per_word=100,
 * truncation keeping the first maxLength-2 pieces) for any vocab.txt.
 *
 * Special tokens typed by a user (`[MASK]`, `[CLS]`, …) are ordinary text: they become `[`, `mask`,
 * `]`, exactly as Hugging Face with `split_special_tokens=True`. A user must never be able to inject
 * a control token into the model input; only this class adds `[CLS]`/`[SEP]`/`[PAD]`.
 *
 * Pure TypeScript with no Node API: it runs inside workerd.
 */

export interface EncodedText {
  ids: number[];
  /** True when word pieces were dropped to fit maxLength. */
  truncated: boolean;
}

/** Row-major [batchSize, seqLength] int64 tensors, ready for the wire. */
export interface EncodedBatch {
  batchSize: number;
  /** Length of the longest row; shorter rows are padded with `[PAD]` and mask 0. */
  seqLength: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  /** Unpadded length of each row, `[CLS]` and `[SEP]` included. */
  lengths: Int32Array;
  truncated: boolean[];
}

export interface BertWordPieceOptions {
  /** Words longer than this many code points become `[UNK]` (Hugging Face default 100). */
  maxInputCharsPerWord?: number;
  /**
   * Estimated bytes (see `cacheStats`) that the word → piece ids cache may hold before it is cleared;
   * 0 disables the cache. Default `DEFAULT_WORD_CACHE_BYTES` (4 MiB).
   */
  wordCacheBytes?: number;
  /**
   * @deprecated Use `wordCacheBytes`. An extra cap in entries on top of the byte budget (no entry cap
   * by default); 0 still disables the cache.
   */
  wordCacheSize?: number;
}

/** What the tokenizer's caches hold now, in entries and in estimated bytes (see the estimates below). */
export interface TokenizerCacheStats {
  /** Entries of this tokenizer's word → piece ids cache. */
  wordEntries: number;
  wordBytes: number;
  /** Entries of the per-code-point normalization cache, which all tokenizers of the isolate share. */
  charEntries: number;
  charBytes: number;
}

export const DEFAULT_MAX_LENGTH = 128;

/**
 * Cache budgets. A Worker isolate has 128 MB for everything, and the text reaching the tokenizer is
 * chosen by users, so every cache is bounded by an estimate of the bytes it holds, not by entries
 * (a 2-character word and a 100-character one must not count the same).
 *
 * Both caches are cleared when the next entry would go over budget, rather than evicting the least
 * recently used entry: an LRU on a Map has to delete and re-insert on every hit, which is work on the
 * hot path of every word of every text, while clearing costs nothing until the budget is reached and
 * then one refill of the hot entries (which come straight back). Under adversarial input the worst
 * case is the uncached speed (about 0.6× the cached one), never more memory.
 */
export const DEFAULT_WORD_CACHE_BYTES = 4 * 1024 * 1024;
/** The per-code-point cache is shared by all tokenizers of an isolate (it depends on no vocab). */
export const CHAR_CACHE_BYTES = 2 * 1024 * 1024;

// Byte estimates, deliberately on the high side of V8's layouts on Node 20 (V8 11.3, 64-bit pointers,
// no pointer compression; workerd compresses pointers, so the real figures there are smaller):
// - one Map entry: key, value and chain slots plus its share of the bucket array, up to 2× slack
//   after the table grows: at most 2 × (3 × 8 + 4) = 56 B → counted 64 B;
// - a flat string: 16 B header + 1 or 2 B per UTF-16 unit, rounded up to 8 → counted 24 B + 2 B/unit
//   (0 for the empty string, which is shared);
// - an array of piece ids, stored at its exact length: 32 B JSArray + 16 B backing store header
//   + 8 B per id → counted 48 B + 8 B/id (a one-piece word, the common case, stores the id itself
//   as a small integer, no array);
// - a normalized-character record `{ kind, text, simple }`: 24 B header + 3 fields → counted 48 B
//   (the records for dropped and whitespace characters are shared, so count only their Map entry).
// Measured there with a forced GC: a cached ordinary word ~60–70 B (estimate ≥ 90 B), a cached astral
// character ~109 B (estimate ≥ 138 B); test/unit/tokenizer/memory.test.ts checks the word estimate
// against the live heap.
const MAP_ENTRY_BYTES = 64;
const ARRAY_BYTES = 48;
const PIECE_ID_BYTES = 8;
const CHAR_RECORD_BYTES = 48;

function stringBytes(text: string): number {
  return text.length === 0 ? 0 : 24 + 2 * text.length;
}

// Character classes, as bits, so that one table lookup answers every question about a character.
const DROPPED = 1;
const WHITESPACE = 2;
const NONSPACING_MARK = 4;
const PUNCTUATION = 8;
const CJK = 16;

// Hugging Face's is_chinese_char ranges (its Rust normalizer's, which start the Extension C/D block at
// U+2B920 where Google's original Python had U+2B820).
const CJK_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xf900, 0xfaff],
  [0x20000, 0x2a6df],
  [0x2a700, 0x2b73f],
  [0x2b740, 0x2b81f],
  [0x2b920, 0x2ceaf],
  [0x2f800, 0x2fa1f],
];

function decodeRanges(encoded: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let previousEnd = 0;
  for (const pair of encoded.split(",")) {
    const plus = pair.indexOf("+");
    const start = previousEnd + Number.parseInt(pair.slice(0, plus), 16);
    const end = start + Number.parseInt(pair.slice(plus + 1), 16);
    ranges.push([start, end]);
    previousEnd = end;
  }
  return ranges;
}

/** Flags for the BMP in one flat table (64 KiB, built once); astral code points use sorted ranges. */
const bmpFlags = new Uint8Array(0x10000);
const astralRanges: Array<{ start: number; end: number; flag: number }> = [];

function addRanges(ranges: ReadonlyArray<readonly [number, number]>, flag: number): void {
  for (const [start, end] of ranges) {
    for (let cp = start; cp <= Math.min(end, 0xffff); cp++) bmpFlags[cp]! |= flag;
    if (end > 0xffff) astralRanges.push({ start: Math.max(start, 0x10000), end, flag });
  }
}
addRanges(decodeRanges(DROPPED_RANGES), DROPPED);
addRanges(decodeRanges(WHITESPACE_RANGES), WHITESPACE);
addRanges(decodeRanges(NONSPACING_MARK_RANGES), NONSPACING_MARK);
addRanges(decodeRanges(PUNCTUATION_RANGES), PUNCTUATION);
addRanges(CJK_RANGES, CJK);
astralRanges.sort((a, b) => a.start - b.start);

function charFlags(cp: number): number {
  if (cp < 0x10000) return bmpFlags[cp]!;
  let flags = 0;
  // Few astral ranges overlap a given code point; a linear scan over ~100 entries only runs for
  // astral characters, which the per-character cache then remembers.
  for (const range of astralRanges) {
    if (range.start > cp) break;
    if (cp <= range.end) flags |= range.flag;
  }
  return flags;
}

/** How Hugging Face's BERT normalizer and pre-tokenizer see one code point (for tests and tooling). */
export interface BertCharacterClass {
  dropped: boolean;
  whitespace: boolean;
  nonspacingMark: boolean;
  punctuation: boolean;
  cjk: boolean;
}

export function bertCharacterClass(cp: number): BertCharacterClass {
  const flags = charFlags(cp);
  return {
    dropped: (flags & DROPPED) !== 0,
    whitespace: (flags & WHITESPACE) !== 0,
    nonspacingMark: (flags & NONSPACING_MARK) !== 0,
    punctuation: (flags & PUNCTUATION) !== 0,
    cjk: (flags & CJK) !== 0,
  };
}

// ASCII handled without any table lookup beyond this one.
const ASCII_WORD = 0;
const ASCII_UPPER = 1;
const ASCII_SPACE = 2;
const ASCII_PUNCT = 3;
const ASCII_DROP = 4;
const asciiClass = new Uint8Array(128);
for (let code = 0; code < 128; code++) {
  const flags = bmpFlags[code]!;
  if (flags & DROPPED) asciiClass[code] = ASCII_DROP;
  else if (flags & WHITESPACE) asciiClass[code] = ASCII_SPACE;
  else if (flags & PUNCTUATION) asciiClass[code] = ASCII_PUNCT;
  else if (code >= 65 && code <= 90) asciiClass[code] = ASCII_UPPER;
  else asciiClass[code] = ASCII_WORD;
}

/**
 * What one non-ASCII code point becomes after clean_text, NFD, Mn removal and lowercasing.
 * `simple` means every output character continues the current word, the common case (é → e).
 */
interface NormalizedChar {
  kind: "drop" | "space" | "cjk" | "text";
  text: string;
  simple: boolean;
}

const DROP_CHAR: NormalizedChar = { kind: "drop", text: "", simple: true };
const SPACE_CHAR: NormalizedChar = { kind: "space", text: "", simple: true };

/** Code point → normalization; module-level (it depends on no vocab), bounded by CHAR_CACHE_BYTES. */
const normalizedChars = new Map<number, NormalizedChar>();
let normalizedCharsBytes = 0;

function charEntryBytes(entry: NormalizedChar): number {
  return entry === DROP_CHAR || entry === SPACE_CHAR
    ? MAP_ENTRY_BYTES
    : MAP_ENTRY_BYTES + CHAR_RECORD_BYTES + stringBytes(entry.text);
}

function stripAndLowercase(char: string): string {
  let out = "";
  // Hugging Face strips accents before lowercasing, and lowercases one character at a time (so a
  // final capital sigma becomes σ, not ς).
  for (const part of char.normalize("NFD")) {
    const cp = part.codePointAt(0)!;
    if (charFlags(cp) & NONSPACING_MARK) continue;
    out += part.toLowerCase();
  }
  return out;
}

function normalizeChar(cp: number): NormalizedChar {
  const cached = normalizedChars.get(cp);
  if (cached) return cached;
  const flags = charFlags(cp);
  let entry: NormalizedChar;
  if (flags & DROPPED) entry = DROP_CHAR;
  else if (flags & WHITESPACE) entry = SPACE_CHAR;
  else {
    const text = stripAndLowercase(String.fromCodePoint(cp));
    let simple = true;
    for (const part of text) {
      if (charFlags(part.codePointAt(0)!) & (WHITESPACE | PUNCTUATION)) simple = false;
    }
    entry = { kind: flags & CJK ? "cjk" : "text", text, simple };
  }
  const bytes = charEntryBytes(entry);
  // Cleared when full (see DEFAULT_WORD_CACHE_BYTES for why not LRU): all of Unicode would be ~100 MB.
  if (normalizedCharsBytes + bytes > CHAR_CACHE_BYTES) {
    normalizedChars.clear();
    normalizedCharsBytes = 0;
  }
  normalizedChars.set(cp, entry);
  normalizedCharsBytes += bytes;
  return entry;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class BertWordPieceTokenizer {
  readonly vocab: Vocab;
  private readonly maxInputCharsPerWord: number;
  private readonly wordCacheBytes: number;
  private readonly wordCacheEntries: number;
  /** Word-initial pieces. */
  private readonly startPieces: ReadonlyMap<string, number>;
  /** Continuation pieces keyed without their `##`, so lookups need no string concatenation. */
  private readonly continuationPieces: Map<string, number>;
  /** No piece is longer than this (UTF-16 units), so longer candidate substrings are skipped. */
  private readonly longestPiece: number;
  private readonly asciiPunctIds: Int32Array;
  /** Word → its piece id (one piece, the common case) or ids; bounded by wordCacheBytes. */
  private readonly wordCache = new Map<string, number | readonly number[]>();
  private wordCacheUsed = 0;
  private readonly unkPieces: readonly number[];

  constructor(vocab: Vocab, options: BertWordPieceOptions = {}) {
    this.vocab = vocab;
    this.maxInputCharsPerWord = options.maxInputCharsPerWord ?? 100;
    const entries = options.wordCacheSize ?? Number.POSITIVE_INFINITY;
    this.wordCacheBytes = entries === 0 ? 0 : (options.wordCacheBytes ?? DEFAULT_WORD_CACHE_BYTES);
    this.wordCacheEntries = entries;
    this.unkPieces = [vocab.unkId];
    this.startPieces = vocab.ids;
    this.continuationPieces = new Map();
    let longest = 1;
    for (const [token, id] of vocab.ids) {
      longest = Math.max(longest, token.length);
      if (token.startsWith("##") && token.length > 2) this.continuationPieces.set(token.slice(2), id);
    }
    this.longestPiece = longest;
    this.asciiPunctIds = new Int32Array(128).fill(-1);
    for (let code = 0; code < 128; code++) {
      if (asciiClass[code] === ASCII_PUNCT) {
        this.asciiPunctIds[code] = vocab.ids.get(String.fromCharCode(code)) ?? vocab.unkId;
      }
    }
  }

  /** Sizes of the caches, by the same estimates that bound them (for tests and monitoring). */
  cacheStats(): TokenizerCacheStats {
    return {
      wordEntries: this.wordCache.size,
      wordBytes: this.wordCacheUsed,
      charEntries: normalizedChars.size,
      charBytes: normalizedCharsBytes,
    };
  }

  encode(text: string, maxLength = DEFAULT_MAX_LENGTH): EncodedText {
    checkMaxLength(maxLength);
    const ids: number[] = [this.vocab.clsId];
    const truncated = this.appendPieces(text, ids, maxLength - 1);
    ids.push(this.vocab.sepId);
    return { ids, truncated };
  }

  encodeBatch(texts: readonly string[], maxLength = DEFAULT_MAX_LENGTH): EncodedBatch {
    checkMaxLength(maxLength);
    const rows = texts.map((text) => this.encode(text, maxLength));
    const batchSize = rows.length;
    let seqLength = 0;
    for (const row of rows) seqLength = Math.max(seqLength, row.ids.length);
    const inputIds = new BigInt64Array(batchSize * seqLength);
    const attentionMask = new BigInt64Array(batchSize * seqLength);
    const lengths = new Int32Array(batchSize);
    const pad = this.vocab.padId;
    // Converting every id to a BigInt is the slow part of packing; on little-endian hosts (all that
    // workerd runs on) the low 32-bit word of each int64 can be written directly instead.
    if (littleEndian) {
      const ids32 = new Int32Array(inputIds.buffer);
      const mask32 = new Int32Array(attentionMask.buffer);
      rows.forEach((row, r) => {
        const base = r * seqLength;
        lengths[r] = row.ids.length;
        for (let s = 0; s < seqLength; s++) {
          const id = row.ids[s];
          ids32[2 * (base + s)] = id ?? pad;
          mask32[2 * (base + s)] = id === undefined ? 0 : 1;
        }
      });
    } else {
      rows.forEach((row, r) => {
        const base = r * seqLength;
        lengths[r] = row.ids.length;
        for (let s = 0; s < seqLength; s++) {
          const id = row.ids[s];
          inputIds[base + s] = BigInt(id ?? pad);
          attentionMask[base + s] = id === undefined ? 0n : 1n;
        }
      });
    }
    return {
      batchSize,
      seqLength,
      inputIds,
      attentionMask,
      lengths,
      truncated: rows.map((row) => row.truncated),
    };
  }

  /**
   * Appends the word pieces of `text` to `out` until `out.length` reaches `limit`; returns whether
   * pieces were left out. Stops reading the text as soon as one piece does not fit.
   */
  private appendPieces(text: string, out: number[], limit: number): boolean {
    // The current word is `prefix` + the pending ASCII run text[runStart, i), lowercased if runUpper.
    // Keeping the run as indices avoids building strings one character at a time.
    let prefix = "";
    let runStart = -1;
    let runUpper = false;
    const n = text.length;

    const takeRun = (end: number): void => {
      if (runStart >= 0) {
        const run = text.slice(runStart, end);
        prefix += runUpper ? run.toLowerCase() : run;
        runStart = -1;
        runUpper = false;
      }
    };
    // Returns false when the output is full and more pieces were waiting.
    const endWord = (end: number): boolean => {
      let word: string;
      if (prefix === "") {
        if (runStart < 0) return true;
        word = text.slice(runStart, end);
        if (runUpper) word = word.toLowerCase();
      } else {
        takeRun(end);
        word = prefix;
      }
      prefix = "";
      runStart = -1;
      runUpper = false;
      return word === "" || this.appendWord(word, out, limit);
    };
    const appendOne = (id: number): boolean => {
      if (out.length >= limit) return false;
      out.push(id);
      return true;
    };

    for (let i = 0; i < n; i++) {
      const code = text.charCodeAt(i);
      if (code < 128) {
        switch (asciiClass[code]) {
          case ASCII_WORD:
            if (runStart < 0) runStart = i;
            break;
          case ASCII_UPPER:
            if (runStart < 0) runStart = i;
            runUpper = true;
            break;
          case ASCII_SPACE:
            if (!endWord(i)) return true;
            break;
          case ASCII_PUNCT:
            if (!endWord(i) || !appendOne(this.asciiPunctIds[code]!)) return true;
            break;
          default:
            // A removed control character joins its neighbours into one word, as in Hugging Face.
            takeRun(i);
        }
        continue;
      }

      let cp = code;
      if (code >= 0xd800 && code <= 0xdbff && i + 1 < n) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) cp = ((code - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
      }
      const end = cp > 0xffff ? i + 2 : i + 1;
      // A lone surrogate cannot reach Hugging Face at all (it is not valid UTF-8); it is treated like
      // U+FFFD, which is what it becomes on the wire, and removed.
      const normalized = cp >= 0xd800 && cp <= 0xdfff ? DROP_CHAR : normalizeChar(cp);
      switch (normalized.kind) {
        case "drop":
          takeRun(i);
          break;
        case "space":
          if (!endWord(i)) return true;
          break;
        case "cjk":
          if (!endWord(i)) return true;
          prefix = normalized.text;
          if (!endWord(end)) return true;
          break;
        default:
          takeRun(i);
          if (normalized.simple) {
            prefix += normalized.text;
          } else if (
            !this.appendComplexChar(
              normalized.text,
              () => endWord(end),
              (part) => (prefix += part),
            )
          ) {
            return true;
          }
      }
      i = end - 1;
    }
    return !endWord(n);
  }

  /** A character whose normalized form holds punctuation or whitespace (e.g. U+037E → `;`). */
  private appendComplexChar(
    text: string,
    endWord: () => boolean,
    appendToWord: (part: string) => void,
  ): boolean {
    for (const part of text) {
      const flags = charFlags(part.codePointAt(0)!);
      if (flags & WHITESPACE) {
        if (!endWord()) return false;
      } else if (flags & PUNCTUATION) {
        if (!endWord()) return false;
        appendToWord(part);
        if (!endWord()) return false;
      } else {
        appendToWord(part);
      }
    }
    return true;
  }

  private appendWord(word: string, out: number[], limit: number): boolean {
    const max = this.maxInputCharsPerWord;
    // A word over the limit is `[UNK]` whatever it holds: answered without a cache lookup (which would
    // hash it) and never cached, so long words cost no memory. A code point is 1 or 2 UTF-16 units, so
    // the exact count is only needed between max and 2 × max units.
    if (word.length > max && (word.length > 2 * max || countCodePoints(word) > max)) {
      return this.appendId(this.vocab.unkId, out, limit);
    }
    let pieces = this.wordCache.get(word);
    if (typeof pieces === "number") return this.appendId(pieces, out, limit);
    if (pieces === undefined) {
      pieces = this.wordPieces(word);
      if (this.wordCacheBytes > 0) this.cacheWord(word, pieces);
    }
    const room = limit - out.length;
    if (pieces.length > room) {
      for (let k = 0; k < room; k++) out.push(pieces[k]!);
      return false;
    }
    for (const id of pieces) out.push(id);
    return true;
  }

  private appendId(id: number, out: number[], limit: number): boolean {
    if (out.length >= limit) return false;
    out.push(id);
    return true;
  }

  private cacheWord(word: string, pieces: readonly number[]): void {
    const one = pieces.length === 1;
    const bytes =
      MAP_ENTRY_BYTES + stringBytes(word) + (one ? 0 : ARRAY_BYTES + PIECE_ID_BYTES * pieces.length);
    if (bytes > this.wordCacheBytes) return;
    // Clearing at the bound keeps memory flat under adversarial input at the cost of one refill.
    if (this.wordCacheUsed + bytes > this.wordCacheBytes || this.wordCache.size >= this.wordCacheEntries) {
      this.wordCache.clear();
      this.wordCacheUsed = 0;
    }
    this.wordCache.set(ownString(word), one ? pieces[0]! : pieces.slice());
    this.wordCacheUsed += bytes;
  }

  /** Greedy longest-match-first WordPiece over one normalized word. */
  private wordPieces(word: string): readonly number[] {
    const unk = this.unkPieces;
    const pieces: number[] = [];
    let start = 0;
    while (start < word.length) {
      const table = start === 0 ? this.startPieces : this.continuationPieces;
      let end = Math.min(word.length, start + this.longestPiece);
      let id: number | undefined;
      for (; end > start; end--) {
        // Never cut a surrogate pair: pieces are made of whole code points.
        if (
          end < word.length &&
          isLowSurrogate(word.charCodeAt(end)) &&
          isHighSurrogate(word.charCodeAt(end - 1))
        ) {
          continue;
        }
        id = table.get(word.slice(start, end));
        if (id !== undefined) break;
      }
      if (id === undefined) return unk;
      pieces.push(id);
      start = end;
    }
    return pieces;
  }
}

function checkMaxLength(maxLength: number): void {
  if (!Number.isInteger(maxLength) || maxLength < 2) {
    throw new RangeError(`maxLength must be an integer ≥ 2 (room for [CLS] and [SEP]), got ${maxLength}`);
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function countCodePoints(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    if (!(isLowSurrogate(text.charCodeAt(i)) && i > 0 && isHighSurrogate(text.charCodeAt(i - 1)))) count++;
  }
  return count;
}

/**
 * A copy of `text` that holds its own characters. V8 makes a substring of 13 or more units a view
 * into its parent (a "sliced" string) and a concatenation a pair of references (a "cons" string), so a
 * cached 20-character word sliced from a 2,000-character request would otherwise keep the whole
 * request alive (measured: 2 KB per entry instead of ~90 B). V8 copies shorter ones anyway. This runs
 * only when a word enters the cache. JSON.parse builds its result from the characters it parses, so
 * the copy can share nothing with `text` (`(" " + text).slice(1)` and the like only do so by accident
 * of V8's current heuristics); the round trip is exact, lone surrogates included.
 */
function ownString(text: string): string {
  return text.length < 13 ? text : (JSON.parse(JSON.stringify(text)) as string);
}

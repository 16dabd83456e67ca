/** A WordPiece vocabulary as `vocab.txt` defines it: one token per line, the id is the line index. */
export interface Vocab {
  /** Tokens by id; duplicates keep their lines, so ids stay line indices. */
  readonly tokens: readonly string[];
  /** Token → id; for a duplicated token the last line wins, as in Hugging Face's loaders. */
  readonly ids: ReadonlyMap<string, number>;
  readonly size: number;
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly maskId: number;
}

export const REQUIRED_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;

export function parseVocabTxt(text: string): Vocab {
  const lines = text.split("\n");
  // A final newline ends the last line; it does not start an empty token.
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  // Tolerate CRLF files: a token never ends in a carriage return.
  const tokens = lines.map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
  if (tokens.length === 0) throw new Error("vocab.txt is empty");
  const ids = new Map<string, number>();
  tokens.forEach((token, id) => {
    ids.set(token, id);
  });
  const missing = REQUIRED_SPECIAL_TOKENS.filter((token) => !ids.has(token));
  if (missing.length > 0) {
    throw new Error(
      `vocab.txt lacks required special token(s) ${missing.join(", ")} (${tokens.length} lines read)`,
    );
  }
  return {
    tokens,
    ids,
    size: tokens.length,
    padId: ids.get("[PAD]")!,
    unkId: ids.get("[UNK]")!,
    clsId: ids.get("[CLS]")!,
    sepId: ids.get("[SEP]")!,
    maskId: ids.get("[MASK]")!,
  };
}

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { BertWordPieceTokenizer, DEFAULT_MAX_LENGTH, parseVocabTxt } from "@intentql/tokenizer";
import { loadBertBaseUncasedVocabTxt } from "@intentql/tokenizer/bert-base-uncased";
import { UsageError } from "../args.ts";
import { defineCommand } from "../command.ts";

/** `intentql tokenize --vocab FILE|bert-base-uncased [--max-length N]`: JSONL {text} → JSONL {ids}. */
export const command = defineCommand(
  {
    name: "tokenize",
    summary: "BERT WordPiece token ids: JSONL {text} on stdin → JSONL {ids} on stdout (no servers)",
    description: [
      'One output line per input line; a line without a string "text" gives {"error"} and exit 1.',
    ],
    flags: [
      {
        name: "vocab",
        value: "FILE",
        description: "WordPiece vocab.txt, or bert-base-uncased for the one bundled with the CLI",
        required: "a vocab.txt, e.g. models/massive-scratch/vocab.txt, or bert-base-uncased",
      },
      {
        name: "max-length",
        value: "N",
        description: "truncate to N ids, [CLS] and [SEP] included",
        default: String(DEFAULT_MAX_LENGTH),
        integer: { min: 2 },
      },
    ],
  },
  async (args) => {
    const vocabArg = args.required("vocab");
    const maxLength = args.integer("max-length");
    const vocabText =
      vocabArg === "bert-base-uncased" ? loadBertBaseUncasedVocabTxt() : readVocabFile(vocabArg);
    const tokenizer = new BertWordPieceTokenizer(parseVocabTxt(vocabText));

    let badLines = 0;
    let lineNumber = 0;
    const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      lineNumber++;
      const text = textOf(line);
      let output: string;
      if (typeof text === "string") {
        output = JSON.stringify({ ids: tokenizer.encode(text, maxLength).ids });
      } else {
        badLines++;
        process.stderr.write(`intentql tokenize: line ${lineNumber}: ${text.error}\n`);
        // Still one output line per input line, so callers can zip input and output.
        output = JSON.stringify({ error: `line ${lineNumber}: ${text.error}` });
      }
      if (!process.stdout.write(`${output}\n`))
        await new Promise((resolve) => process.stdout.once("drain", resolve));
    }
    if (badLines > 0) {
      process.stderr.write(`intentql tokenize: ${badLines} of ${lineNumber} line(s) had no usable "text"\n`);
      return 1;
    }
    return 0;
  },
);

function readVocabFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(
      `cannot read --vocab ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function textOf(line: string): string | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { error: "not valid JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { error: "not a JSON object" };
  const text = (value as { text?: unknown }).text;
  if (typeof text !== "string") return { error: 'no string field "text"' };
  return text;
}

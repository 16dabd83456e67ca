/**
 * Labelled-utterance files, in the two layouts users have: MASSIVE's official JSONL
 * (`{"utt", "intent", "partition", …}`, one file holding train/dev/test) and `{"text", "label_text"}`
 * JSONL (the Hugging Face export). Pure: the CLI and the Worker parse with the same code.
 */

import { sha256Hex } from "./digest.ts";

export interface LabelledText {
  text: string;
  label: string;
  /** MASSIVE partition (`train`, `dev`, `test`) when the file says; undefined otherwise. */
  split?: string;
  /** 1-based line of the source file, for error messages. */
  line: number;
}

export interface RowError {
  line: number;
  message: string;
}

export interface ParsedDataset {
  rows: LabelledText[];
  errors: RowError[];
}

/**
 * Characters a label or a partition name may have. Both are repeated in answers (every run lists
 * its split, every wrong prediction its labels): a 900,000-character partition made one listing of
 * 40 runs 36 MB (session 14's second attack pass). MASSIVE's longest intent has 24.
 */
export const MAX_NAME_CHARS = 100;

/**
 * Characters no name (label, scenario, action, partition, API key name) may hold: control
 * characters (C0, DEL, C1), whose escape sequences act on a terminal that prints them, and the
 * bidirectional controls (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069), which make a name display
 * as another, and invisible ones (soft hyphen, zero-width characters, line separators, BOM, lone
 * surrogates), which make two names look the same (session 15's attack passes: a key name with
 * U+202E showed reversed in `keys list`; `check_weather` and `check_weather` + U+200D trained as two).
 */
export const UNSAFE_NAME_CHARS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff]|\p{Cs}/u;

/** What is wrong with `name` as a name (`what`: how the message calls it), or undefined. */
export function nameProblem(what: string, name: string): string | undefined {
  if (name.length > MAX_NAME_CHARS) return `${what} is longer than ${MAX_NAME_CHARS} characters`;
  if (UNSAFE_NAME_CHARS.test(name))
    return `${what} holds a control, bidirectional or invisible formatting character`;
  return undefined;
}

/** MASSIVE calls its validation partition "dev"; users say either. */
export function normaliseSplit(split: string): string {
  return split === "validation" ? "dev" : split;
}

/**
 * `split`: keep only this partition of official files. `maxTextChars`: a longer text (UTF-16 code
 * units) is a row error, as the API refuses it in classify.
 */
export function parseDatasetJsonl(
  text: string,
  options: { split?: string; maxTextChars?: number } = {},
): ParsedDataset {
  const wanted = options.split === undefined ? undefined : normaliseSplit(options.split);
  const rows: LabelledText[] = [];
  const errors: RowError[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, "");
    if (raw.trim() === "") continue;
    const line = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      errors.push({ line, message: "not valid JSON" });
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      errors.push({ line, message: "not a JSON object" });
      continue;
    }
    const row = value as Record<string, unknown>;
    let textValue: unknown;
    let label: unknown;
    let split: string | undefined;
    if ("utt" in row || "intent" in row) {
      textValue = row.utt;
      label = row.intent;
      if (typeof row.partition === "string") split = normaliseSplit(row.partition);
    } else if ("text" in row || "label_text" in row) {
      textValue = row.text;
      label = row.label_text;
    } else {
      errors.push({ line, message: 'expected "utt" and "intent" (MASSIVE) or "text" and "label_text"' });
      continue;
    }
    if (typeof textValue !== "string" || textValue.trim() === "") {
      errors.push({ line, message: "the text is missing or empty" });
      continue;
    }
    if (typeof label !== "string" || label === "") {
      errors.push({ line, message: "the label is missing or empty" });
      continue;
    }
    const problem =
      nameProblem("the label", label) ??
      (split === undefined ? undefined : nameProblem("the partition", split));
    if (problem) {
      errors.push({ line, message: problem });
      continue;
    }
    if (options.maxTextChars !== undefined && textValue.length > options.maxTextChars) {
      errors.push({
        line,
        message: `the text has ${textValue.length} characters; the limit is ${options.maxTextChars}`,
      });
      continue;
    }
    if (wanted !== undefined && split !== undefined && split !== wanted) continue;
    rows.push(
      split === undefined ? { text: textValue, label, line } : { text: textValue, label, split, line },
    );
  }
  return { rows, errors };
}

/** Rows grouped by split, in file order within each (a row without a partition goes under `split`). */
export function rowsBySplit(rows: readonly LabelledText[], split: string): Map<string, LabelledText[]> {
  const bySplit = new Map<string, LabelledText[]>();
  for (const row of rows) {
    const rowSplit = row.split ?? split;
    const list = bySplit.get(rowSplit) ?? [];
    list.push(row);
    bySplit.set(rowSplit, list);
  }
  return bySplit;
}

/**
 * The sha256 a dataset is identified by: of its rows grouped by split (rowsBySplit), the groups in
 * split-name order, each row as the JSON array [split, text, label]. The Worker's importDataset
 * files a dataset under it, and a client can find the dataset its rows already are (query
 * `datasets`, eval scope) without uploading them (admin scope): the same rows give the same digest
 * whatever the file's layout or extra fields.
 */
export async function datasetRowsSha256(
  bySplit: ReadonlyMap<string, readonly LabelledText[]>,
): Promise<string> {
  const canonical = [...bySplit.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([rowSplit, list]) => list.map((r) => JSON.stringify([rowSplit, r.text, r.label])).join("\n"))
    .join("\n");
  return sha256Hex(canonical);
}

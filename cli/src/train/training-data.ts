/**
 * The labelled file `intentql train` learns from: read, checked, de-duplicated and split. Any label
 * names, at least two labels, at least MIN_EXAMPLES_PER_LABEL texts per label. A file in MASSIVE's
 * official layout keeps its own train / dev partitions; any other file gets a stratified, seeded
 * hold-out for validation (HOLDOUT of each label, at least one text). Every problem is reported with
 * its line numbers, all at once, and nothing is written.
 */
import { readFile } from "node:fs/promises";
import { type LabelledText, MAX_LABELS, parseDatasetJsonl, sha256Hex } from "@intentql/schema";
import { mulberry32 } from "./random.ts";

export const MIN_EXAMPLES_PER_LABEL = 3;
export const HOLDOUT = 0.2;
/** Problems listed in one error before "… and N more". */
const SHOWN = 10;

export class TrainingDataError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    const shown = problems.slice(0, SHOWN).map((p) => `  ${p}`);
    if (problems.length > SHOWN) shown.push(`  … and ${problems.length - SHOWN} more`);
    super(`${file}: cannot train on it\n${shown.join("\n")}`);
    this.name = "TrainingDataError";
  }
}

export interface TrainingData {
  labels: string[];
  train: LabelledText[];
  validation: LabelledText[];
  /** Exact repeats (same normalised text, same label) dropped before the split. */
  duplicatesDropped: number;
  /** Rows dropped because their text also appears under another label (with `dropConflicts`). */
  conflictsDropped: number;
  /** Where the validation texts came from. */
  validationSource: "partition" | "holdout";
  /** Hex sha256 of the file's bytes. */
  sha256: string;
}

/** Case, spacing and surrounding whitespace do not make two texts different. */
export function normaliseText(text: string): string {
  return text.normalize("NFC").toLowerCase().replace(/\s+/g, " ").trim();
}

export interface TrainingDataOptions {
  seed: number;
  /** Drop every text that appears under several labels instead of refusing the file. */
  dropConflicts?: boolean;
}

export async function readTrainingData(file: string, options: TrainingDataOptions): Promise<TrainingData> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new TrainingDataError(file, [`cannot read it: ${(error as NodeJS.ErrnoException).code ?? error}`]);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // Every line that is not UTF-8, and the other lines' own problems (read leniently) with them,
    // so that one pass over the file finds everything to fix.
    const invalid = invalidUtf8Lines(bytes);
    const { errors } = parseDatasetJsonl(new TextDecoder("utf-8").decode(bytes));
    const problems = [
      ...invalid.map((line) => ({ line, message: "not valid UTF-8 (save the file as UTF-8)" })),
      ...errors.filter((e) => !invalid.includes(e.line)),
    ].sort((a, b) => a.line - b.line);
    throw new TrainingDataError(
      file,
      problems.map((p) => `line ${p.line}: ${p.message}`),
    );
  }
  return { ...splitTrainingData(file, text, options), sha256: await sha256Hex(new Uint8Array(bytes)) };
}

/** The 1-based lines that hold a byte sequence that is not UTF-8. */
function invalidUtf8Lines(bytes: Uint8Array): number[] {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const lines: number[] = [];
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      try {
        decoder.decode(bytes.subarray(start, i));
      } catch {
        lines.push(line);
      }
      line++;
      start = i + 1;
    }
  }
  return lines;
}

export function splitTrainingData(
  file: string,
  text: string,
  options: TrainingDataOptions,
): Omit<TrainingData, "sha256"> {
  const { rows, errors } = parseDatasetJsonl(text);
  const problems = errors.map((e) => `line ${e.line}: ${e.message}`);
  if (rows.length === 0 && problems.length === 0) problems.push("no labelled texts");

  // The same text under two labels is a contradiction the model cannot learn; repeats are dropped.
  const keys = rows.map((r) => normaliseText(r.text));
  const byText = new Map<string, LabelledText>();
  const conflicting = new Set<string>();
  let duplicatesDropped = 0;
  for (const [i, row] of rows.entries()) {
    const first = byText.get(keys[i]!);
    if (!first) byText.set(keys[i]!, row);
    else if (first.label !== row.label) {
      conflicting.add(keys[i]!);
      if (!options.dropConflicts)
        problems.push(
          `line ${row.line}: the same text as line ${first.line} (${JSON.stringify(row.text.slice(0, 60))}) with another label ("${row.label}" vs "${first.label}"); fix it, or --drop-conflicts`,
        );
    } else duplicatesDropped++;
  }
  // The first row of each text, less (with --drop-conflicts) every text found under several labels.
  const unique = [...byText]
    .filter(([key]) => !(options.dropConflicts && conflicting.has(key)))
    .map(([, row]) => row);
  const conflictsDropped = options.dropConflicts ? keys.filter((key) => conflicting.has(key)).length : 0;

  const counts = new Map<string, number>();
  for (const row of unique) counts.set(row.label, (counts.get(row.label) ?? 0) + 1);
  const labels = [...counts.keys()].sort();
  if (rows.length > 0 && labels.length < 2)
    problems.push(`only one label (${labels[0] ?? "none"}): a classifier needs at least two`);
  if (labels.length > MAX_LABELS)
    problems.push(`${labels.length} labels; a model may have at most ${MAX_LABELS}`);
  for (const label of labels)
    if (counts.get(label)! < MIN_EXAMPLES_PER_LABEL)
      problems.push(
        `label "${label}" has ${counts.get(label)} distinct text(s); each label needs at least ${MIN_EXAMPLES_PER_LABEL}`,
      );
  if (problems.length > 0) throw new TrainingDataError(file, problems);

  const partitioned = unique.some((r) => r.split !== undefined);
  if (partitioned) {
    const train = unique.filter((r) => r.split === "train");
    const validation = unique.filter((r) => r.split === "dev");
    const missing = labels.filter((l) => !validation.some((r) => r.label === l));
    if (train.length > 0 && validation.length > 0 && missing.length === 0)
      return {
        labels,
        train,
        validation,
        duplicatesDropped,
        conflictsDropped,
        validationSource: "partition",
      };
    // Partitions that cannot serve (no dev rows, or labels without one): hold out from all rows.
  }
  const random = mulberry32(options.seed);
  const train: LabelledText[] = [];
  const validation: LabelledText[] = [];
  for (const label of labels) {
    const rowsOf = unique.filter((r) => r.label === label);
    for (let i = rowsOf.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [rowsOf[i], rowsOf[j]] = [rowsOf[j]!, rowsOf[i]!];
    }
    const held = Math.max(1, Math.round(HOLDOUT * rowsOf.length));
    validation.push(...rowsOf.slice(0, held));
    train.push(...rowsOf.slice(held));
  }
  const byLine = (a: LabelledText, b: LabelledText) => a.line - b.line;
  return {
    labels,
    train: train.sort(byLine),
    validation: validation.sort(byLine),
    duplicatesDropped,
    conflictsDropped,
    validationSource: "holdout",
  };
}

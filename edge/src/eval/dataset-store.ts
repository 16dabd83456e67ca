import type { D1Database, D1PreparedStatement } from "@cloudflare/workers-types";
import {
  datasetRowsSha256,
  MAX_NAME_CHARS,
  parseDatasetJsonl,
  type RowError,
  rowsBySplit,
} from "@intentql/schema";
import { TEXT_LIMIT_DEFAULTS } from "../limits/text-budget.ts";

/** What the Worker needs from D1 (the binding type, narrowed so that tests can see what is used). */
export type Db = D1Database;

/** A dataset as the store keeps it and the GraphQL `Dataset` type serves it. */
export interface Dataset {
  id: string;
  name: string;
  sha256: string;
  rowCount: number;
  splits: Record<string, number>;
  createdAt: string;
}

export class DatasetImportError extends Error {
  constructor(
    message: string,
    readonly rowErrors: RowError[] = [],
  ) {
    super(message);
    this.name = "DatasetImportError";
  }
}

/** Splits (partitions) one dataset may have: each is listed wherever the dataset is (MASSIVE has 3). */
export const MAX_SPLITS = 16;

/** Rows without a partition (the {"text","label_text"} layout) land in this split unless told. */
export const DEFAULT_SPLIT = "test";
/** D1 caps one statement's size; rows travel as JSON arrays of about this many bytes each. */
const CHUNK_BYTES = 400_000;

interface DatasetRow {
  id: string;
  name: string;
  sha256: string;
  row_count: number;
  splits: string;
  created_at: string;
}

function toDataset(r: DatasetRow): Dataset {
  return {
    id: r.id,
    name: r.name,
    sha256: r.sha256,
    rowCount: r.row_count,
    splits: JSON.parse(r.splits),
    createdAt: r.created_at,
  };
}

export interface ImportOptions {
  name: string;
  content: string;
  /** For MASSIVE official files: keep only this partition. For other files: the split to file rows under. */
  split?: string;
}

/** A dataset name as given (trimmed), or the coded refusal. */
export function datasetName(given: string): string {
  const name = given.trim();
  if (name === "" || name.length > 200) throw new DatasetImportError("name must be 1-200 characters");
  // Runs and lookups take an id or a name: a name shaped like an id could stand in for another dataset.
  if (/^ds_[0-9a-f]{16}$/.test(name))
    throw new DatasetImportError(`name "${name}" has the form of a dataset id (ds_ and 16 hex characters)`);
  return name;
}

/**
 * Imports a JSONL dataset atomically: every row is checked first and any bad row refuses the whole
 * file with line numbers; the rows are then written in one D1 batch (a transaction), so a failure
 * leaves nothing behind. Idempotent: the same rows give the same dataset, whatever its name.
 */
export async function importDataset(
  db: Db,
  options: ImportOptions,
): Promise<{ dataset: Dataset; created: boolean }> {
  const name = datasetName(options.name);
  if (options.split !== undefined && options.split.length > MAX_NAME_CHARS)
    throw new DatasetImportError(`a split name has at most ${MAX_NAME_CHARS} characters`);
  // texts as long as classify takes, so that eval runs and their pages stay as bounded as the API
  const { rows, errors } = parseDatasetJsonl(options.content, {
    ...(options.split ? { split: options.split } : {}),
    maxTextChars: TEXT_LIMIT_DEFAULTS.maxTextChars,
  });
  if (errors.length > 0) {
    const shown = errors
      .slice(0, 20)
      .map((e) => `line ${e.line}: ${e.message}`)
      .join("; ");
    throw new DatasetImportError(`${errors.length} bad row(s), nothing imported: ${shown}`, errors);
  }
  if (rows.length === 0) throw new DatasetImportError("the file has no rows (after the split filter)");

  const bySplit = rowsBySplit(rows, options.split ?? DEFAULT_SPLIT);
  if (bySplit.size > MAX_SPLITS)
    throw new DatasetImportError(`the file has ${bySplit.size} splits (partitions); at most ${MAX_SPLITS}`);
  const sha256 = await datasetRowsSha256(bySplit);
  const existing = await db
    .prepare("SELECT * FROM datasets WHERE sha256 = ?")
    .bind(sha256)
    .first<DatasetRow>();
  if (existing) return { dataset: toDataset(existing), created: false };

  const id = `ds_${sha256.slice(0, 16)}`;
  const splits = Object.fromEntries([...bySplit.entries()].map(([s, list]) => [s, list.length]));
  const createdAt = new Date().toISOString();
  const statements: D1PreparedStatement[] = [
    db
      .prepare(
        "INSERT INTO datasets (id, name, sha256, row_count, splits, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .bind(id, name, sha256, rows.length, JSON.stringify(splits), createdAt),
  ];
  const insertChunk = db.prepare(
    `INSERT INTO dataset_rows (dataset_id, split, idx, text, label)
     SELECT ?1, ?2, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
     FROM json_each(?3)`,
  );
  for (const [split, list] of bySplit) {
    let chunk: unknown[] = [];
    let bytes = 0;
    const flush = () => {
      if (chunk.length === 0) return;
      statements.push(insertChunk.bind(id, split, JSON.stringify(chunk)));
      chunk = [];
      bytes = 0;
    };
    list.forEach((r, idx) => {
      const entry = [idx, r.text, r.label];
      bytes += r.text.length * 3 + r.label.length + 16;
      chunk.push(entry);
      if (bytes > CHUNK_BYTES) flush();
    });
    flush();
  }
  await db.batch(statements);
  return { dataset: { id, name, sha256, rowCount: rows.length, splits, createdAt }, created: true };
}

/** D1 binds at most 100 parameters per statement. */
export const MAX_IDS_PER_QUERY = 100;

/** The datasets with these ids, in the same order (null where none); at most MAX_IDS_PER_QUERY ids. */
export async function datasetsById(db: Db, ids: readonly string[]): Promise<(Dataset | null)[]> {
  if (ids.length > MAX_IDS_PER_QUERY) throw new RangeError(`at most ${MAX_IDS_PER_QUERY} ids per query`);
  const { results } = await db
    .prepare(`SELECT * FROM datasets WHERE id IN (${ids.map(() => "?").join(", ")})`)
    .bind(...ids)
    .all<DatasetRow>();
  const byId = new Map(results.map((r) => [r.id, toDataset(r)]));
  return ids.map((id) => byId.get(id) ?? null);
}

export async function getDataset(db: Db, idOrName: string): Promise<Dataset | null> {
  const row = await db
    // an id wins over a name (names shaped like ids are refused at import, but older rows may hold one)
    .prepare(
      "SELECT * FROM datasets WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC, created_at DESC LIMIT 1",
    )
    .bind(idOrName)
    .first<DatasetRow>();
  return row ? toDataset(row) : null;
}

/** The distinct labels of one split of a dataset (at most one row per label: bounded by the label table). */
export async function datasetLabels(db: Db, datasetId: string, split: string): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT DISTINCT label FROM dataset_rows WHERE dataset_id = ? AND split = ? ORDER BY label")
    .bind(datasetId, split)
    .all<{ label: string }>();
  return results.map((r) => r.label);
}

/** The newest `first` datasets (an index range: migration 0008), or the one holding these rows. */
export async function listDatasets(db: Db, first: number, sha256?: string): Promise<Dataset[]> {
  const { results } =
    sha256 === undefined
      ? await db
          .prepare("SELECT * FROM datasets ORDER BY created_at DESC LIMIT ?")
          .bind(first)
          .all<DatasetRow>()
      : await db.prepare("SELECT * FROM datasets WHERE sha256 = ?").bind(sha256).all<DatasetRow>();
  return results.map(toDataset);
}

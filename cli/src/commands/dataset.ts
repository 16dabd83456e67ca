import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { datasetRowsSha256, parseDatasetJsonl, rowsBySplit, sha256Hex } from "@intentql/schema";
import { apiClient, ENDPOINT_FLAG } from "../api-client.ts";
import { UsageError } from "../args.ts";
import { type CommandGroup, defineCommand } from "../command.ts";
import { ALL_SPLITS, splitFilter } from "../split.ts";

export interface ImportedDataset {
  id: string;
  name: string;
  rowCount: number;
  splits: { name: string; count: number }[];
}

const DATASET_FIELDS = "created dataset { id name rowCount splits { name count } }";
const START = `mutation Start($input: StartDatasetUploadInput!) {
  startDatasetUpload(input: $input) { id parts missing } }`;
const PART = `mutation Part($id: ID!, $index: Int!, $content: String!) {
  uploadDatasetPart(id: $id, index: $index, content: $content) { id } }`;
const FINISH = `mutation Finish($id: ID!) { finishDatasetUpload(id: $id) { ${DATASET_FIELDS} } }`;

/** The server's part limit (edge/src/eval/dataset-upload-store.ts MAX_PART_BYTES); parts stay under it. */
const PART_BYTES = 512 * 1024;

/** Cuts a file into parts of at most PART_BYTES UTF-8 bytes, at line ends where a line fits. */
export function splitIntoParts(content: string, maxBytes = PART_BYTES): string[] {
  const parts: string[] = [];
  const encoder = new TextEncoder();
  let part = "";
  let partBytes = 0;
  for (const line of content.split(/(?<=\n)/)) {
    let rest = line;
    let bytes = encoder.encode(rest).byteLength;
    if (partBytes + bytes > maxBytes && part !== "") {
      parts.push(part);
      part = "";
      partBytes = 0;
    }
    while (bytes > maxBytes) {
      // One line longer than a part: cut it by code points (the server joins parts back exactly).
      let cut = "";
      let cutBytes = 0;
      for (const ch of rest) {
        const b = encoder.encode(ch).byteLength;
        if (cutBytes + b > maxBytes) break;
        cut += ch;
        cutBytes += b;
      }
      parts.push(cut);
      rest = rest.slice(cut.length);
      bytes -= cutBytes;
    }
    part += rest;
    partBytes += bytes;
  }
  if (part !== "") parts.push(part);
  return parts;
}

/**
 * Imports a JSONL file of any size through the API (admin scope): in parts of at most 512 KiB, so no
 * request meets the edge's 1 MiB body limit. Resumable (running it again sends only the parts the
 * server lacks) and idempotent on content; nothing is imported until every part is there.
 */
export async function importFile(
  endpoint: string | undefined,
  file: string,
  name: string,
  split: string | undefined,
  content?: string,
): Promise<{ created: boolean; dataset: ImportedDataset }> {
  content ??= await readDatasetFile(file);
  const api = apiClient(endpoint);
  const parts = splitIntoParts(content);
  const sha256 = await sha256Hex(content);
  const bytes = Buffer.byteLength(content, "utf8");
  const { startDatasetUpload: upload } = await api.request<{
    startDatasetUpload: { id: string; parts: number; missing: number[] };
  }>(START, { input: { name, sha256, parts: parts.length, bytes, ...(split ? { split } : {}) } });
  const resumed = upload.missing.length < parts.length;
  if (parts.length > 1 || resumed)
    process.stderr.write(
      `uploading ${file}: ${parts.length} part(s), ${upload.missing.length} to send${resumed ? " (resumed)" : ""}\n`,
    );
  for (const index of upload.missing) {
    await api.request(PART, { id: upload.id, index, content: parts[index] });
    if (parts.length > 1) process.stderr.write(`  part ${index + 1}/${parts.length}\n`);
  }
  const data = await api.request<{ finishDatasetUpload: { created: boolean; dataset: ImportedDataset } }>(
    FINISH,
    {
      id: upload.id,
    },
  );
  return data.finishDatasetUpload;
}

const DATASET_OF_ROWS =
  "query DatasetOfRows($sha256: String!) { datasets(sha256: $sha256) { id name rowCount splits { name count } } }";

/**
 * The dataset that already holds the rows importFile would import from `content` with `split` (the
 * Worker files a dataset under the digest of its rows, datasetRowsSha256), found with the eval scope
 * alone, so that a key without admin can run evals on what an admin imported. Undefined when none
 * does, or when the rows do not parse (importFile then reports the bad rows).
 */
export async function findImportedDataset(
  endpoint: string | undefined,
  content: string,
  split: string,
): Promise<ImportedDataset | undefined> {
  const { rows, errors } = parseDatasetJsonl(content, { split });
  if (errors.length > 0 || rows.length === 0) return undefined;
  const sha256 = await datasetRowsSha256(rowsBySplit(rows, split));
  const { datasets } = await apiClient(endpoint).request<{ datasets: ImportedDataset[] }>(DATASET_OF_ROWS, {
    sha256,
  });
  const found = datasets[0];
  return found && { id: found.id, name: found.name, rowCount: found.rowCount, splits: found.splits };
}

/** A dataset file's text; a missing, unreadable or empty file is a usage error. */
export async function readDatasetFile(file: string): Promise<string> {
  let content: string;
  try {
    content = await readFile(file, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  if (content === "") throw new UsageError(`${file} is empty`);
  return content;
}

export function defaultName(file: string): string {
  return basename(file).replace(/\.jsonl?$/i, "");
}

/** `intentql dataset import --file F [--name N] [--split S] [--endpoint URL]` */
const importCommand = defineCommand(
  {
    name: "dataset import",
    summary: "import a labelled JSONL file through the API (admin key: INTENTQL_API_KEY)",
    description: [
      "Idempotent: the same rows give the same dataset, whatever its name. Prints the dataset as JSON.",
    ],
    flags: [
      {
        name: "file",
        value: "FILE",
        description:
          'labelled JSONL: MASSIVE official rows {"utt","intent","partition"} or {"text","label_text"}',
        required: "a JSONL file, e.g. data/massive-en/test.jsonl",
      },
      {
        name: "name",
        value: "NAME",
        description: "the dataset's name",
        defaultText: "the file's name without .jsonl",
      },
      {
        name: "split",
        value: "S",
        description:
          'files with a "partition" field: keep only this partition (train, dev or validation, test) or all; other files: the split their rows go under (all: test)',
        default: ALL_SPLITS,
      },
      ENDPOINT_FLAG,
    ],
  },
  async (args) => {
    const file = args.required("file");
    const result = await importFile(
      args.required("endpoint"),
      file,
      args.string("name") ?? defaultName(file),
      splitFilter(args.required("split")),
    );
    process.stderr.write(`${result.created ? "imported" : "already imported"}: ${result.dataset.name}\n`);
    process.stdout.write(`${JSON.stringify(result.dataset)}\n`);
    return 0;
  },
);

export const command: CommandGroup = {
  name: "dataset",
  summary: "labelled datasets stored by the API",
  subcommands: [importCommand],
};

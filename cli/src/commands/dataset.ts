import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { apiClient } from "../api-client.ts";
import { parseArgs, rejectUnknownFlags, requireFlag, UsageError } from "../args.ts";

export interface ImportedDataset {
  id: string;
  name: string;
  rowCount: number;
  splits: { name: string; count: number }[];
}

const IMPORT = `mutation Import($input: ImportDatasetInput!) {
  importDataset(input: $input) { created dataset { id name rowCount splits { name count } } } }`;

/** Imports a JSONL file through the API (admin scope); idempotent on content. */
export async function importFile(
  endpoint: string | undefined,
  file: string,
  name: string,
  split: string | undefined,
): Promise<{ created: boolean; dataset: ImportedDataset }> {
  let content: string;
  try {
    content = await readFile(file, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  const data = await apiClient(endpoint).request<{
    importDataset: { created: boolean; dataset: ImportedDataset };
  }>(IMPORT, { input: { name, content, ...(split ? { split } : {}) } });
  return data.importDataset;
}

export function defaultName(file: string): string {
  return basename(file).replace(/\.jsonl?$/i, "");
}

/** `intentql dataset import --file F [--name N] [--split S] [--endpoint URL]` */
export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "import")
    throw new UsageError("usage: intentql dataset import --file F [--name N] [--split S]");
  const args = parseArgs(rest);
  rejectUnknownFlags(args, ["file", "name", "split", "endpoint"]);
  const file = requireFlag(args, "file");
  const result = await importFile(
    args.flags.get("endpoint"),
    file,
    args.flags.get("name") ?? defaultName(file),
    args.flags.get("split"),
  );
  process.stderr.write(`${result.created ? "imported" : "already imported"}: ${result.dataset.name}\n`);
  process.stdout.write(`${JSON.stringify(result.dataset)}\n`);
  return 0;
}

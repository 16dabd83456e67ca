import { readFile } from "node:fs/promises";
import { basename } from "node:path";
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

import { ApiError, apiClient, ENDPOINT_FLAG } from "../api-client.ts";
import { UsageError } from "../args.ts";
import { defineCommand } from "../command.ts";
import { ProgressBar } from "../progress.ts";
import { ALL_SPLITS, DEFAULT_SPLIT, splitFilter } from "../split.ts";
import { defaultName, findImportedDataset, importFile, readDatasetFile } from "./dataset.ts";

interface RunState {
  id: string;
  status: string;
  total: number;
  done: number;
  error: string | null;
  metrics: { n: number; accuracy: number; f1Macro: number } | null;
}

const RUN = "id status total done error metrics { n accuracy f1Macro }";

/**
 * `intentql eval --data FILE [--split S] [--model M] [--name N] [--endpoint URL]`
 * Finds the dataset holding the file's split, or imports it (admin scope), starts an eval run through
 * the API, shows progress on stderr, and prints JSON {"id","n","accuracy","f1Macro"} as the last
 * stdout line. Ctrl-C leaves the run going; `--cancel-on-exit` cancels it instead. The split is
 * chosen as `intentql predict` chooses it (split.ts), so that both score the same rows.
 */
export const command = defineCommand(
  {
    name: "eval",
    summary: "an eval run through the running API, with progress (key: INTENTQL_API_KEY, eval scope)",
    description: [
      'Runs the served model on the split of --data and prints {"id","n","accuracy","f1Macro"} as the last',
      "stdout line. The split is stored as a dataset: when one with the same rows exists (the same rows",
      "give the same dataset, whatever their name) it is used, and the key needs only the eval scope;",
      "otherwise the file is imported first, which needs the admin scope too (an admin can import it",
      "once: intentql dataset import --file FILE --split S, or an eval with an admin key).",
    ],
    flags: [
      {
        name: "data",
        value: "FILE",
        description:
          'labelled JSONL: MASSIVE official rows {"utt","intent","partition"} or {"text","label_text"}',
        required: "a JSONL file, e.g. data/massive-en/test.jsonl",
      },
      {
        name: "split",
        value: "S",
        description:
          'the partition to score in files with a "partition" field: train, dev (or validation), test; files without one are scored whole',
        default: DEFAULT_SPLIT,
      },
      {
        name: "model",
        value: "M",
        description: "the upstream model to evaluate",
        defaultText: "the server's default model",
      },
      {
        name: "name",
        value: "NAME",
        description: "the dataset's name if the import creates it",
        defaultText: "the file's name without .jsonl",
      },
      ENDPOINT_FLAG,
      { name: "cancel-on-exit", description: "Ctrl-C cancels the run (without it, the run goes on)" },
    ],
  },
  async (args) => {
    const file = args.required("data");
    const endpoint = args.required("endpoint");
    const api = apiClient(endpoint);
    const split = splitFilter(args.required("split"));
    if (split === undefined)
      throw new UsageError(
        `--split ${ALL_SPLITS} is for predict and dataset import: an eval run scores one split (e.g. --split ${DEFAULT_SPLIT})`,
      );
    // Only this split's rows are imported (and filed under its name when the file has no partitions).
    const content = await readDatasetFile(file);
    let dataset = await findImportedDataset(endpoint, content, split);
    if (dataset)
      process.stderr.write(
        `dataset ${dataset.name} (${dataset.id}) already holds these rows: not uploading\n`,
      );
    else {
      try {
        dataset = (await importFile(endpoint, file, args.string("name") ?? defaultName(file), split, content))
          .dataset;
      } catch (error) {
        if (error instanceof ApiError && error.code === "FORBIDDEN")
          throw new ApiError(
            `${error.message}: no dataset holds these rows yet, and importing them needs the admin scope; an admin can import them once with intentql dataset import --file ${file} --split ${split}`,
          );
        throw error;
      }
    }
    const started = await api.request<{ startEvalRun: RunState }>(
      `mutation Start($input: StartEvalRunInput!) { startEvalRun(input: $input) { ${RUN} } }`,
      {
        input: {
          dataset: dataset.id,
          split: split,
          ...(args.has("model") ? { model: args.string("model") } : {}),
        },
      },
    );
    let state = started.startEvalRun;
    process.stderr.write(`eval run ${state.id}: ${dataset.name}/${split}, ${state.total} texts\n`);
    if (args.boolean("cancel-on-exit")) {
      process.once("SIGINT", () => {
        void api
          .request(`mutation Cancel($id: ID!) { cancelEvalRun(id: $id) { id } }`, { id: state.id })
          .finally(() => process.exit(130));
      });
    }
    const bar = new ProgressBar(`eval ${state.id}`, state.total);
    let failures = 0;
    while (state.status === "queued" || state.status === "running") {
      await new Promise((r) => setTimeout(r, 500));
      try {
        state = (
          await api.request<{ evalRun: RunState }>(`query Run($id: ID!) { evalRun(id: $id) { ${RUN} } }`, {
            id: state.id,
          })
        ).evalRun;
        failures = 0;
      } catch (error) {
        // The stack may be restarting (the run resumes on its own): keep polling for a while.
        if (++failures > 240) throw error;
        continue;
      }
      bar.update(state.done);
    }
    bar.finish(state.done);
    if (state.status !== "succeeded" || !state.metrics) {
      process.stderr.write(`eval run ${state.id} ${state.status}${state.error ? `: ${state.error}` : ""}\n`);
      return 1;
    }
    process.stdout.write(
      `${JSON.stringify({ id: state.id, n: state.metrics.n, accuracy: state.metrics.accuracy, f1Macro: state.metrics.f1Macro })}\n`,
    );
    return 0;
  },
);

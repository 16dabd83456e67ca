import { apiClient } from "../api-client.ts";
import { parseArgs, rejectUnknownFlags, requireFlag } from "../args.ts";
import { ProgressBar } from "../progress.ts";
import { defaultName, importFile } from "./dataset.ts";

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
 * Imports the file (if needed), starts an eval run through the API, shows progress on stderr, and
 * prints JSON {"id","n","accuracy","f1Macro"} as the last stdout line. Ctrl-C leaves the run going;
 * `--cancel-on-exit` cancels it instead.
 */
export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, new Set(["cancel-on-exit"]));
  rejectUnknownFlags(args, ["data", "split", "model", "name", "endpoint", "cancel-on-exit"]);
  const file = requireFlag(args, "data");
  const endpoint = args.flags.get("endpoint");
  const api = apiClient(endpoint);
  const split = args.flags.get("split");
  const { dataset } = await importFile(endpoint, file, args.flags.get("name") ?? defaultName(file), split);
  const runSplit =
    split ?? (dataset.splits.some((s) => s.name === "test") ? "test" : dataset.splits[0]!.name);
  const started = await api.request<{ startEvalRun: RunState }>(
    `mutation Start($input: StartEvalRunInput!) { startEvalRun(input: $input) { ${RUN} } }`,
    {
      input: {
        dataset: dataset.id,
        split: runSplit,
        ...(args.flags.has("model") ? { model: args.flags.get("model") } : {}),
      },
    },
  );
  let state = started.startEvalRun;
  process.stderr.write(`eval run ${state.id}: ${dataset.name}/${runSplit}, ${state.total} texts\n`);
  if (args.flags.has("cancel-on-exit")) {
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
}

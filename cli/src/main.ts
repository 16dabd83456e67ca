import { UsageError } from "./args.ts";

/** Each command is a module exporting `run(argv): Promise<number>`; loaded lazily so that `tokenize`
 * never pays for onnxruntime and `predict` never for the network client. */
const commands: Record<
  string,
  { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }
> = {
  tokenize: {
    summary: "tokenize --vocab FILE [--max-length N]   JSONL {text} on stdin → JSONL {ids} on stdout",
    load: () => import("./commands/tokenize.ts"),
  },
  predict: {
    summary: "predict --bundle DIR --data FILE [--variant fp32|fp16|int8] [--split S]   offline accuracy/F1",
    load: () => import("./commands/predict.ts"),
  },
  classify: {
    summary:
      "classify [--endpoint URL] [--top-k N] [--json] TEXT…   intents through the running API (key: INTENTQL_API_KEY)",
    load: () => import("./commands/classify.ts"),
  },
  eval: {
    summary: "eval --data FILE [--split S] [--model M] [--endpoint URL]   eval run through the API",
    load: () => import("./commands/eval.ts"),
  },
  dataset: {
    summary: "dataset import --file F [--name N] [--split S] [--endpoint URL]",
    load: () => import("./commands/dataset.ts"),
  },
  keys: {
    summary:
      "keys create --name N --scopes S[,S…] | list [--all] | revoke ID   API keys (admin key: INTENTQL_API_KEY)",
    load: () => import("./commands/keys.ts"),
  },
};

function usage(): string {
  return [
    "usage: intentql <command> [options]",
    "",
    ...Object.values(commands).map((c) => `  ${c.summary}`),
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`intentql: unknown command "${name}"\n${usage()}\n`);
    return 2;
  }
  try {
    return await (await command.load()).run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`intentql ${name}: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`intentql ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

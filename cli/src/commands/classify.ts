/**
 * `intentql classify [--endpoint URL] [--model NAME] [--top-k N] [--json] TEXT…`: classifies through
 * the running API (one GraphQL request for all texts). The key comes from INTENTQL_API_KEY.
 * Prints one line per text: intent, calibrated score, and "(out of scope)" when flagged.
 */
import { apiClient, ENDPOINT_FLAG } from "../api-client.ts";
import { UsageError } from "../args.ts";
import { defineCommand } from "../command.ts";

const QUERY = `query Classify($texts: [String!]!, $topK: Int, $model: String) {
  classify(texts: $texts, topK: $topK, model: $model) { text intent { name } score topK { intent { name } score } outOfScope model }
}`;

interface Row {
  text: string;
  intent: { name: string };
  score: number;
  topK: { intent: { name: string }; score: number }[];
  outOfScope: boolean;
  model: string;
}

export const command = defineCommand(
  {
    name: "classify",
    summary: "intents of TEXTs through the running API (key: INTENTQL_API_KEY)",
    description: [
      'One line per text: intent, calibrated score, "(out of scope)" when flagged, the other top-k',
      "intents, the text. One GraphQL request for all texts.",
    ],
    positionals: {
      name: "TEXT…",
      description: 'utterances to classify, e.g. "wake me up at seven"',
      min: 1,
      max: Number.POSITIVE_INFINITY,
    },
    flags: [
      ENDPOINT_FLAG,
      {
        name: "model",
        value: "NAME",
        description: "a served model or alias (intentql models list)",
        defaultText: "the API's default model",
      },
      {
        name: "top-k",
        value: "N",
        description: "also show the next N-1 intents with their scores",
        default: "1",
        integer: { min: 1 },
      },
      { name: "json", description: "print each result as a JSON line instead" },
    ],
  },
  async (args) => {
    const topK = args.integer("top-k");
    const key = process.env.INTENTQL_API_KEY;
    if (!key) throw new UsageError("set INTENTQL_API_KEY (npm start prints one)");
    const api = apiClient(args.required("endpoint"), key);
    const { classify } = await api.request<{ classify: Row[] }>(QUERY, {
      texts: args.positionals,
      topK,
      ...(args.has("model") ? { model: args.string("model") } : {}),
    });
    for (const row of classify) {
      if (args.boolean("json")) {
        process.stdout.write(`${JSON.stringify(row)}\n`);
        continue;
      }
      const others = row.topK
        .slice(1)
        .map((s) => `${s.intent.name} ${s.score.toFixed(3)}`)
        .join(", ");
      process.stdout.write(
        `${row.intent.name}\t${row.score.toFixed(3)}${row.outOfScope ? "\t(out of scope)" : ""}${others ? `\t[${others}]` : ""}\t${row.text}\n`,
      );
    }
    return 0;
  },
);

/**
 * Test accuracy of a bundle served by a running gpu-service: reads MASSIVE JSONL (`utt`+`intent`
 * or `text`+`label_text`), tokenizes with the edge's WordPiece tokenizer and the served bundle's
 * vocab (fetched from the service, sha256 checked by the bundle loader), sends binary V2 requests
 * of 64 texts (gpu-service/tools/served-accuracy.ts), prints one JSON line. Bundled to dist/gpu-accuracy.mjs for the GPU host.
 *
 *   node dist/gpu-accuracy.mjs --url http://127.0.0.1:8501 --data .device/data/test.jsonl --vocab models/massive-scratch/vocab.txt
 */
import { parseArgs } from "node:util";
import { measureServedAccuracy } from "@intentql/gpu-service/served-accuracy";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: "string", default: "http://127.0.0.1:8501" },
      data: { type: "string", default: ".device/data/test.jsonl" },
      vocab: { type: "string", default: "models/massive-scratch/vocab.txt" },
      label: { type: "string", default: "accuracy" },
    },
  });
  const list = (await (await fetch(`${values.url}/v2/models`)).json()) as { models: { name: string }[] };
  const model = list.models[0]!.name;
  const meta = (await (await fetch(`${values.url}/v2/models/${model}`)).json()) as {
    parameters: Record<string, unknown>;
  };
  const labels = (await (await fetch(`${values.url}/v2/models/${model}/labels`)).json()) as {
    name: string;
  }[];
  const result = await measureServedAccuracy({
    url: values.url!,
    model,
    dataFile: values.data!,
    vocabFile: values.vocab!,
    labels: labels.map((l) => l.name),
  });
  process.stdout.write(
    `${JSON.stringify({
      step: values.label,
      model,
      provider: meta.parameters.provider,
      variant: meta.parameters.variant,
      ...result,
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stdout.write(`${JSON.stringify({ step: "accuracy", error: String(error) })}\n`);
  process.exit(1);
});

import { basename } from "node:path";
import { defineCommand } from "../command.ts";
import { trainBundle } from "../train/train-bundle.ts";

/**
 * `intentql train --data FILE --out DIR [--name NAME] [--version V] [--epochs N] [--dim N] [--seed N] [--force]`
 * Trains a classifier for the labels of any labelled JSONL file, on this machine's CPU, and writes a
 * complete bundle (the recipe: cli/src/train/train-bundle.ts; docs/CUSTOM-INTENTS.md).
 */
export const command = defineCommand(
  {
    name: "train",
    summary: "train a model bundle for your own intents from a labelled JSONL file (CPU, no servers)",
    description: [
      'Data: {"text","label_text"} JSONL (any label names, at least 2 labels and 3 texts per label)',
      "or MASSIVE's official layout. Without a dev partition, 20% of each label is held out for",
      "validation. Writes bundle.json, labels.json, vocab.txt, fp32/fp16/int8 ONNX and parity.json;",
      'the last stdout line is JSON {"bundle","name","validation":{"n","accuracy","f1Macro"},"seconds"}.',
    ],
    flags: [
      { name: "data", value: "FILE", description: "labelled JSONL", required: "a labelled JSONL file" },
      {
        name: "out",
        value: "DIR",
        description: "the bundle folder to write",
        required: "e.g. models/my-intents",
      },
      {
        name: "name",
        value: "NAME",
        description: "the model's name (what classify(model:) and gpu-service use)",
        defaultText: "the folder's name",
      },
      { name: "version", value: "V", description: "the bundle's version", default: "1.0.0" },
      {
        name: "epochs",
        value: "N",
        description: "passes over the training texts",
        default: "30",
        integer: { min: 1 },
      },
      { name: "dim", value: "N", description: "embedding width", default: "64", integer: { min: 4 } },
      {
        name: "seed",
        value: "N",
        description: "seed of the split, the initialisation and the order",
        default: "1",
        integer: { min: 0 },
      },
      { name: "force", description: "replace an existing folder at --out" },
      {
        name: "drop-conflicts",
        description: "drop every text that appears under several labels instead of refusing the file",
      },
    ],
  },
  async (args) => {
    const out = args.required("out");
    const name = args.has("name") ? args.required("name") : basename(out);
    const trained = await trainBundle({
      data: args.required("data"),
      out,
      name,
      version: args.required("version"),
      epochs: args.integer("epochs"),
      dim: args.integer("dim"),
      learningRate: 0.5,
      seed: args.integer("seed"),
      force: args.boolean("force"),
      dropConflicts: args.boolean("drop-conflicts"),
      log: (line) => process.stderr.write(`intentql train: ${line}\n`),
    });
    process.stdout.write(
      `${JSON.stringify({
        bundle: trained.dir,
        name: trained.manifest.name,
        validation: trained.validation,
        seconds: Number(trained.seconds.toFixed(1)),
      })}\n`,
    );
    return 0;
  },
);

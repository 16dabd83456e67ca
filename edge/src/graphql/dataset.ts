/** Datasets: labelled utterances imported into D1, and their import. */
import type { Dataset } from "../eval/dataset-store.ts";
import { builder } from "./builder.ts";
import { evals } from "./eval-context.ts";

export const DatasetRef = builder.objectRef<Dataset>("Dataset").implement({
  authScopes: { $any: { eval: true, admin: true } },
  description: "Labelled utterances imported into D1. Same content, same dataset (by sha256).",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    sha256: t.exposeString("sha256"),
    rowCount: t.exposeInt("rowCount"),
    splits: t.field({
      type: [
        builder.objectRef<{ name: string; count: number }>("DatasetSplit").implement({
          authScopes: { $any: { eval: true, admin: true } },
          fields: (s) => ({ name: s.exposeString("name"), count: s.exposeInt("count") }),
        }),
      ],
      resolve: (d) => Object.entries(d.splits).map(([name, count]) => ({ name, count })),
    }),
    createdAt: t.exposeString("createdAt"),
  }),
});

const ImportDatasetInput = builder.inputType("ImportDatasetInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    content: t.string({
      required: true,
      description: 'JSONL: MASSIVE official rows ({"utt","intent","partition"}) or {"text","label_text"}.',
    }),
    split: t.string({
      description:
        "Official files: keep only this partition. Other files: file rows under this split (default test).",
    }),
  }),
});

export const ImportResultRef = builder
  .objectRef<{ dataset: Dataset; created: boolean }>("ImportDatasetResult")
  .implement({
    authScopes: { admin: true },
    fields: (t) => ({
      dataset: t.field({ type: DatasetRef, resolve: (r) => r.dataset }),
      created: t.exposeBoolean("created", {
        description: "false when the same content was already imported",
      }),
    }),
  });

builder.queryFields((t) => ({
  datasets: t.field({
    type: [DatasetRef],
    authScopes: { eval: true },
    resolve: (_r, _a, ctx) => {
      return evals(ctx).datasets();
    },
  }),
}));

builder.mutationFields((t) => ({
  importDataset: t.field({
    type: ImportResultRef,
    args: { input: t.arg({ type: ImportDatasetInput, required: true }) },
    authScopes: { admin: true },
    resolve: (_r, { input }, ctx) => {
      return evals(ctx).importDataset(input);
    },
  }),
}));

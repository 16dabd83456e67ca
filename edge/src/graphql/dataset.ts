/** Datasets: labelled utterances imported into D1, and their import. */
import type { Dataset } from "../eval/dataset-store.ts";
import { builder, rowsOf } from "./builder.ts";
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

/** datasets(first:) returns this many when `first` is left out or null, and at most the max. */
export const DATASETS_PAGE = 50;
export const MAX_DATASETS_PAGE = 200;

builder.queryFields((t) => ({
  datasets: t.field({
    type: [DatasetRef],
    authScopes: { eval: true },
    description: `Newest first: \`first\` of them (at most ${MAX_DATASETS_PAGE}). With \`sha256\`, the one dataset holding those rows, if any (how \`intentql eval\` finds what an admin imported).`,
    args: {
      first: t.arg.int({ defaultValue: DATASETS_PAGE }),
      sha256: t.arg.string(),
    },
    // Priced by the rows it can return: the list was unpriced (10 rows) and unbounded, and 20
    // aliases of it over 5,000 datasets answered 222 MB (session 15's attack pass).
    complexity: (args) => rowsOf(args.sha256 ? 1 : args.first, DATASETS_PAGE, MAX_DATASETS_PAGE),
    resolve: (_r, args, ctx) => {
      const first = Math.max(1, Math.min(args.first ?? DATASETS_PAGE, MAX_DATASETS_PAGE));
      return evals(ctx).datasets(first, args.sha256 ?? undefined);
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

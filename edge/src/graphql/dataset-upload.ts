/** Dataset files larger than one request, uploaded in parts (edge/src/eval/dataset-upload-store.ts). */
import type { DatasetUpload } from "../eval/dataset-upload-store.ts";
import { builder } from "./builder.ts";
import { ImportResultRef } from "./dataset.ts";
import { evals } from "./eval-context.ts";

const DatasetUploadRef = builder.objectRef<DatasetUpload>("DatasetUpload").implement({
  description: "A dataset file on its way in parts; it becomes a dataset at finishDatasetUpload.",
  authScopes: { admin: true },
  fields: (t) => ({
    id: t.exposeID("id", {
      description: "The same file, name and split always get the same id: resume with it.",
    }),
    name: t.exposeString("name"),
    parts: t.exposeInt("parts"),
    bytes: t.exposeInt("bytes"),
    received: t.exposeIntList("received", { description: "Part indices already stored." }),
    missing: t.intList({
      description: "Part indices still to send.",
      resolve: (u) => {
        const received = new Set(u.received);
        return Array.from({ length: u.parts }, (_, i) => i).filter((i) => !received.has(i));
      },
    }),
  }),
});

const StartDatasetUploadInput = builder.inputType("StartDatasetUploadInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
    split: t.string({ description: "As importDataset's split." }),
    sha256: t.string({ required: true, description: "Hex sha256 of the whole file's UTF-8 bytes." }),
    parts: t.int({ required: true, description: "Number of parts (at most 1,024), each at most 512 KiB." }),
    bytes: t.int({ required: true, description: "UTF-8 bytes of the whole file (at most 16 MiB)." }),
  }),
});

builder.mutationFields((t) => ({
  startDatasetUpload: t.field({
    type: DatasetUploadRef,
    description:
      "Starts (or resumes) a dataset upload in parts, for files above importDataset's 1 MiB body. Needs the `admin` scope.",
    authScopes: { admin: true },
    args: { input: t.arg({ type: StartDatasetUploadInput, required: true }) },
    resolve: (_r, { input }, ctx) => evals(ctx).startDatasetUpload(input),
  }),
  uploadDatasetPart: t.field({
    type: DatasetUploadRef,
    description: "Stores one part (sending a part again replaces it). Needs the `admin` scope.",
    authScopes: { admin: true },
    args: {
      id: t.arg.id({ required: true }),
      index: t.arg.int({ required: true }),
      content: t.arg.string({ required: true }),
    },
    resolve: (_r, args, ctx) => evals(ctx).uploadDatasetPart(String(args.id), args.index, args.content),
  }),
  finishDatasetUpload: t.field({
    type: ImportResultRef,
    description:
      "Checks the parts against the file's sha256 and imports it as importDataset does (atomically, idempotently). Needs the `admin` scope.",
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_r, args, ctx) => evals(ctx).finishDatasetUpload(String(args.id)),
  }),
}));

/**
 * Model aliases and the upstream's model repository: switch or roll back the model that requests
 * naming none (or naming an alias) get, and load or unload models on gpu-service, from the API.
 */
import { GraphQLError } from "graphql";
import { MAX_ALIASES } from "../classifier/model-aliases.ts";
import { builder, type GraphQLContext, type ModelAdmin, type ModelAliasInfo } from "./builder.ts";
import { ErrorCode } from "./errors.ts";

export const ModelAliasRef = builder.objectRef<ModelAliasInfo>("ModelAlias").implement({
  description:
    "A name classify(model:) and eval runs accept in place of a served model, pinned to one version of it. `default` answers requests that name no model.",
  authScopes: { catalog: true },
  fields: (t) => ({
    alias: t.exposeString("alias"),
    model: t.exposeString("model"),
    version: t.exposeString("version", {
      description:
        "Requests through the alias fail with MODEL_MISMATCH while the upstream serves another version.",
    }),
    updatedAt: t.exposeString("updatedAt"),
  }),
});

function admin(ctx: GraphQLContext): ModelAdmin {
  if (!ctx.modelAdmin)
    throw new GraphQLError("model management is not configured on this server", {
      extensions: { code: ErrorCode.INTERNAL },
    });
  return ctx.modelAdmin;
}

builder.queryField("modelAliases", (t) =>
  t.field({
    type: [ModelAliasRef],
    description: `Every alias, by name: at most ${MAX_ALIASES}.`,
    authScopes: { catalog: true },
    complexity: { field: 1, multiplier: MAX_ALIASES },
    resolve: (_root, _args, ctx) => admin(ctx).aliases(),
  }),
);

builder.mutationFields((t) => ({
  setModelAlias: t.field({
    type: ModelAliasRef,
    description:
      "Points an alias at a served model, pinned to the version it serves now (switch, or roll back to a model still loaded). Needs the `admin` scope.",
    authScopes: { admin: true },
    args: { alias: t.arg.string({ required: true }), model: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => admin(ctx).setAlias(args.alias, args.model),
  }),
  removeModelAlias: t.boolean({
    description: "False when there was no such alias. Needs the `admin` scope.",
    authScopes: { admin: true },
    args: { alias: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => admin(ctx).removeAlias(args.alias),
  }),
  loadModel: t.boolean({
    description:
      "Loads (or reloads) a model from the upstream's model repository (gpu-service --model-repository). Needs the `admin` scope.",
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await admin(ctx).load(args.name);
      return true;
    },
  }),
  unloadModel: t.boolean({
    description: "Stops serving a model on the upstream. Needs the `admin` scope.",
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await admin(ctx).unload(args.name);
      return true;
    },
  }),
}));

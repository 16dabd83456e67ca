/** An eval run's wrong predictions, as a cursor connection. */
import type { MisclassifiedPage, MisclassifiedPrediction } from "../eval/eval-run-store.ts";
import { builder } from "./builder.ts";
import { intentOf } from "./eval-context.ts";
import { IntentRef } from "./intent.ts";

const MisclassifiedRef = builder.objectRef<MisclassifiedPrediction>("MisclassifiedPrediction").implement({
  authScopes: { eval: true },
  fields: (t) => ({
    index: t.int({ description: "Row index in the dataset split.", resolve: (p) => p.idx }),
    text: t.exposeString("text"),
    gold: t.field({ type: IntentRef, resolve: (p, _a, ctx) => intentOf(ctx, p.gold) }),
    predicted: t.field({ type: IntentRef, resolve: (p, _a, ctx) => intentOf(ctx, p.predicted) }),
    score: t.exposeFloat("score"),
  }),
});

const PageInfoRef = builder
  .objectRef<{ hasNextPage: boolean; endCursor: string | null }>("PageInfo")
  .implement({
    authScopes: { eval: true },
    fields: (t) => ({
      hasNextPage: t.exposeBoolean("hasNextPage"),
      endCursor: t.exposeString("endCursor", { nullable: true }),
    }),
  });

export const MisclassifiedConnectionRef = builder
  .objectRef<MisclassifiedPage>("MisclassifiedConnection")
  .implement({
    authScopes: { eval: true },
    fields: (t) => ({
      edges: t.field({
        complexity: { field: 1, multiplier: 1 }, // the page size is counted on `misclassified`
        type: [
          builder
            .objectRef<{ cursor: string; node: MisclassifiedPrediction }>("MisclassifiedEdge")
            .implement({
              authScopes: { eval: true },
              fields: (e) => ({
                cursor: e.exposeString("cursor"),
                node: e.field({ type: MisclassifiedRef, resolve: (x) => x.node }),
              }),
            }),
        ],
        resolve: (c) => c.edges,
      }),
      pageInfo: t.field({ type: PageInfoRef, resolve: (c) => c }),
    }),
  });

import { GraphQLError } from "graphql";
import { builder, type ClassificationInfo, type IntentScoreInfo, rowsOf } from "./builder.ts";
import { ErrorCode } from "./errors.ts";
import { IntentRef } from "./intent.ts";

export const IntentScoreRef = builder.objectRef<IntentScoreInfo>("IntentScore").implement({
  authScopes: { classify: true },
  fields: (t) => ({
    intent: t.field({ type: IntentRef, resolve: (s) => s.intent }),
    score: t.exposeFloat("score", { description: "Calibrated probability: softmax(logits / temperature)." }),
  }),
});

export const ClassificationRef = builder.objectRef<ClassificationInfo>("Classification").implement({
  authScopes: { classify: true },
  description: "The model's answer for one text.",
  fields: (t) => ({
    text: t.exposeString("text"),
    intent: t.field({ type: IntentRef, description: "The top intent.", resolve: (c) => c.intent }),
    score: t.exposeFloat("score", {
      description: "Calibrated probability of the top intent: softmax(logits / temperature).",
    }),
    topK: t.field({
      type: [IntentScoreRef],
      description: "The `topK` best intents, best first.",
      resolve: (c) => c.topK,
    }),
    tokens: t.exposeInt("tokens", {
      description: "WordPiece tokens the model saw, [CLS] and [SEP] included.",
    }),
    truncated: t.exposeBoolean("truncated", {
      description: "The text was longer than the model's maxLength.",
    }),
    outOfScope: t.exposeBoolean("outOfScope", {
      description:
        "The calibrated top score is below the bundle's out-of-scope threshold: fall back (ask again, hand over) instead of acting.",
    }),
    model: t.exposeString("model", { description: "The upstream model that answered." }),
  }),
});

builder.queryField("classify", (t) =>
  t.field({
    type: [ClassificationRef],
    description:
      "Classifies each text. Every classify field of one request is answered by one batched model call. Needs the `classify` scope.",
    args: {
      texts: t.arg.stringList({
        required: true,
        description:
          "At most 256 texts per request (all classify fields together), 2,000 characters each. An empty text, or one of only whitespace, control, formatting or combining characters (nothing the tokenizer reads), is refused with BAD_USER_INPUT, and the request with it; gibberish is classified and flagged `outOfScope`.",
      }),
      topK: t.arg.int({ required: false, defaultValue: 1 }),
      model: t.arg.string({
        required: false,
        description: "Upstream model name; the edge's default when omitted.",
      }),
    },
    complexity: (args) => rowsOf(args.texts.length, 1, Number.MAX_SAFE_INTEGER),
    authScopes: { classify: true },
    resolve: (_root, { texts, topK, model }, ctx) => {
      const k = topK ?? 1;
      if (!Number.isInteger(k) || k < 1)
        throw new GraphQLError("topK must be at least 1", { extensions: { code: ErrorCode.BAD_USER_INPUT } });
      return ctx.classify(texts, { topK: k, model: model ?? null });
    },
  }),
);

/**
 * The Pothos builder and the GraphQL context type, in one place. The schema is pure: resolvers only
 * call what the context provides, and the edge (edge/src/context.ts) provides it. That keeps the
 * schema printable and testable with no Worker, no D1 and no upstream.
 */
import SchemaBuilder from "@pothos/core";
import type { Label, SplitMetrics } from "../bundle.ts";

export type Scope = "classify" | "eval" | "admin";

export interface IntentInfo extends Label {
  /** What a user means by it, in one sentence. */
  description: string;
  /** Hand-written utterances that should get this intent. */
  examples: string[];
}

export interface IntentScoreInfo {
  intent: IntentInfo;
  score: number;
}

export interface ClassificationInfo {
  text: string;
  intent: IntentInfo;
  score: number;
  topK: IntentScoreInfo[];
  tokens: number;
  truncated: boolean;
  outOfScope: boolean;
  model: string;
}

export interface ModelInfo {
  name: string;
  version: string;
  provider: string | null;
  variant: string | null;
  labels: IntentInfo[];
  validation: SplitMetrics | null;
  test: SplitMetrics | null;
  temperature: number | null;
  outOfScopeThreshold: number | null;
}

export interface IntentMetricsInfo {
  evalRunId: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface AuthInfo {
  keyId: string;
  scopes: ReadonlySet<Scope>;
}

export interface GraphQLContext {
  /** The caller's API key; the auth plugin refuses requests without one before any resolver runs. */
  auth: AuthInfo | null;
  /** Every call made while executing one operation lands in one upstream batch (DataLoader). */
  classify(
    texts: readonly string[],
    options: { topK: number; model: string | null },
  ): Promise<ClassificationInfo[]>;
  intents: {
    all(): readonly IntentInfo[];
    byName(name: string): IntentInfo | undefined;
  };
  models(): Promise<ModelInfo[]>;
  /** Null until eval runs exist (issue 6). */
  latestIntentMetrics(intent: string): Promise<IntentMetricsInfo | null>;
}

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
}>({ defaultFieldNullability: false });

builder.queryType({ description: "IntentQL: intent classification for voice assistants and chatbots." });
builder.mutationType({ description: "Datasets and eval runs (eval and admin scopes)." });
builder.subscriptionType({ description: "Live progress over Server-Sent Events." });

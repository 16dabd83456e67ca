/**
 * The Pothos builder and the GraphQL context type, in one place. The schema is pure: resolvers only
 * call what the context provides, and the edge (the `context` of `createEdge` in edge/src/app.ts)
 * provides it. That keeps the schema printable and testable with no Worker, no D1 and no upstream.
 */

import type { Label, SplitMetrics } from "@intentql/schema";
import SchemaBuilder from "@pothos/core";
import ComplexityPlugin from "@pothos/plugin-complexity";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import { GraphQLError } from "graphql";
import type { Dataset } from "../eval/dataset-store.ts";
import type { SubscriptionPlace } from "../limits/subscription-gate.ts";
import { ErrorCode } from "./errors.ts";

/** Scopes an API key can hold (stored with the key). */
export type Scope = "classify" | "eval" | "admin";

/**
 * What a field can demand (scope-auth). `catalog` is the only scope a key does not hold: every
 * valid key has it, and so does a key-less caller, but only in development (ENVIRONMENT=development);
 * in production no request without a key reaches a resolver (edge use-api-keys answers 401).
 */
export interface AuthScopes {
  catalog: boolean;
  classify: boolean;
  eval: boolean;
  admin: boolean;
}

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

/** A bundle's score on one split, with what the bundle says about how it was measured. */
export interface MeasuredSplit extends SplitMetrics {
  note: string | null;
}

export interface ModelInfo {
  name: string;
  version: string;
  provider: string | null;
  variant: string | null;
  labels: IntentInfo[];
  validation: MeasuredSplit | null;
  test: MeasuredSplit | null;
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

export interface ApiKeyInfo {
  id: string;
  name: string;
  scopes: readonly Scope[];
  createdAt: string;
  revokedAt: string | null;
}

/** Key management (admin scope): the edge's key store. */
export interface ApiKeyAdmin {
  list(includeRevoked: boolean, first: number): Promise<ApiKeyInfo[]>;
  create(name: string, scopes: readonly Scope[]): Promise<{ key: string; apiKey: ApiKeyInfo }>;
  /** Null when no key has this id. Revoking twice keeps the first revocation time. */
  revoke(id: string): Promise<ApiKeyInfo | null>;
}

export interface ModelAliasInfo {
  alias: string;
  model: string;
  version: string;
  updatedAt: string;
}

/** Model aliases and the upstream's model repository (gpu-service's repository extension). */
export interface ModelAdmin {
  aliases(): Promise<ModelAliasInfo[]>;
  setAlias(alias: string, model: string): Promise<ModelAliasInfo>;
  removeAlias(alias: string): Promise<boolean>;
  load(model: string): Promise<void>;
  unload(model: string): Promise<void>;
}

export interface GraphQLContext {
  /** The caller's API key; null only for a key-less caller in development. */
  auth: AuthInfo | null;
  /** Key-less callers may read the catalog (development only). */
  anonymousCatalog: boolean;
  /** Aborts when the client goes away (subscriptions stop polling). */
  signal?: AbortSignal;
  /** Every call made while executing one operation lands in one upstream batch (DataLoader). */
  classify(
    texts: readonly string[],
    options: { topK: number; model: string | null },
  ): Promise<ClassificationInfo[]>;
  intents: {
    /** The default model's intents (embedded: no upstream call). */
    all(): readonly IntentInfo[];
    byName(name: string): IntentInfo | undefined;
    /** Another served model's intents, as the edge learns or verifies that model. */
    ofModel(model: string): Promise<readonly IntentInfo[]>;
  };
  models(): Promise<ModelInfo[]>;
  /** Absent where keys are managed elsewhere. */
  apiKeys?: ApiKeyAdmin;
  /** Absent where no D1 holds aliases. */
  modelAdmin?: ModelAdmin;
  /** Null until eval runs exist (issue 6). `model`: a model name or alias; null: the newest run of any model. */
  latestIntentMetrics(intent: string, model?: string | null): Promise<IntentMetricsInfo | null>;
  /** A dataset by id, batched over the operation (EvalRun.dataset); null when it is gone. */
  datasetById(id: string): Promise<Dataset | null>;
  /** For long-lived operations (limits/subscription-gate.ts). */
  subscriptions: {
    /** A place for the caller's key among its open subscriptions (or RATE_LIMITED). */
    enter(): Promise<SubscriptionPlace>;
    /** Whether the caller's key is still valid (not revoked since the request began). */
    keyStillValid(): Promise<boolean>;
  };
}

/**
 * Query cost (complexity plugin; enforced by plugins/use-query-cost.ts with the request's own
 * argument values): every field costs 1, and a list field multiplies the cost of its selection by
 * the rows it can return. Lists whose length an argument sets say so with `rowsOf(that argument)`;
 * the intent lists use INTENT_ROWS; any other list counts the plugin's default, 10.
 */
export const INTENT_ROWS = 60;

/**
 * A field that returns `rows` rows: `fallback` when the argument is null (an explicit null skips
 * the argument's default, and the resolver then uses `fallback`), clamped to 1..max as the resolver
 * clamps it.
 */
export function rowsOf(
  rows: number | null | undefined,
  fallback: number,
  max: number,
): { field: number; multiplier: number } {
  return { field: 1, multiplier: Math.max(1, Math.min(Math.trunc(rows ?? fallback), max)) };
}

/** A refusal names the scopes the field needs; UNAUTHENTICATED without a key, FORBIDDEN with one. */
function unauthorized(ctx: GraphQLContext, where: string): GraphQLError {
  return ctx.auth
    ? new GraphQLError(`this API key lacks the scope ${where} needs`, {
        extensions: { code: ErrorCode.FORBIDDEN },
      })
    : new GraphQLError(`an API key is required for ${where}: send Authorization: Bearer <key>`, {
        extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } },
      });
}

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  AuthScopes: AuthScopes;
}>({
  defaultFieldNullability: false,
  plugins: [ScopeAuthPlugin, ComplexityPlugin],
  scopeAuth: {
    // Checked when a subscription starts, not at its first event.
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({
      catalog: ctx.auth !== null || ctx.anonymousCatalog,
      classify: ctx.auth?.scopes.has("classify") ?? false,
      eval: ctx.auth?.scopes.has("eval") ?? false,
      admin: ctx.auth?.scopes.has("admin") ?? false,
    }),
    unauthorizedError: (_parent, ctx, info) => unauthorized(ctx, `${info.parentType.name}.${info.fieldName}`),
  },
});

builder.queryType({ description: "IntentQL: intent classification for voice assistants and chatbots." });
builder.mutationType({ description: "Datasets and eval runs (eval and admin scopes)." });
builder.subscriptionType({ description: "Live progress over Server-Sent Events." });

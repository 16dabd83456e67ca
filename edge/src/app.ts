/**
 * The edge's GraphQL server, independent of how it is hosted: the Worker (index.ts) builds it from
 * its bindings; tests build it in-process and call `yoga.fetch`. Everything per isolate (tokenizer,
 * verified models, rate-limit buckets) lives in the returned object; everything per request (the
 * DataLoader, the caller's key) in the context.
 */
import { createYoga, type YogaServerInstance } from "graphql-yoga";
import type { BundleManifest, Label } from "../../schema/src/bundle.ts";
import type {
  ClassificationInfo,
  GraphQLContext,
  IntentScoreInfo,
  ModelInfo,
} from "../../schema/src/graphql/builder.ts";
import { schema } from "../../schema/src/graphql/index.ts";
import { isOutOfScope, topIndices } from "./classifier/calibrate.ts";
import { type EdgeBundleAssets, EdgeModel, toIntentInfo } from "./classifier/edge-model.ts";
import type { D1Database } from "./d1.ts";
import type { ClassifiedText } from "./eval/eval-runner.ts";
import { createEvalService, latestIntentMetricsLoader, type RunnerLauncher } from "./eval/eval-service.ts";
import { requestAuth, useApiKeys } from "./plugins/use-api-keys.ts";
import { useErrorCodes } from "./plugins/use-error-codes.ts";
import { useIntrospectionPolicy } from "./plugins/use-introspection-policy.ts";
import { type UseLimitsOptions, useLimits } from "./plugins/use-limits.ts";
import { type UseRateLimitOptions, useRateLimit } from "./plugins/use-rate-limit.ts";
import { createInferLoader } from "./upstream/infer-loader.ts";
import { V2Client } from "./upstream/v2-client.ts";
import { ModelVerifier } from "./upstream/verify-model.ts";

export interface EdgeOptions {
  assets: EdgeBundleAssets;
  db: D1Database;
  pepper: string;
  upstream: {
    url: string;
    token?: string;
    /** Default model name. */
    model: string;
    /** Deadline per upstream call. Default 10,000 ms. */
    timeoutMs?: number;
    /** Rows per infer call before splitting. Default 256 (gpu-service's --max-batch-size default). */
    maxBatch?: number;
    fetch?: typeof fetch;
  };
  limits?: UseLimitsOptions;
  rateLimit?: UseRateLimitOptions;
  /** Show error details (never in production). Default false. */
  development?: boolean;
  /** Allowed CORS origins; "*" (the default) suits a bearer-token API with no cookies. */
  corsOrigins?: string[] | "*";
  introspection?: boolean;
  /** Starts eval runs in the background (the Worker: the EvalRunner Durable Object). Without it,
   * eval-run fields answer that eval runs are not configured. */
  evalRunner?: RunnerLauncher;
  /** A running eval run silent for this long is restarted when looked at. Default 30,000 ms. */
  evalStaleAfterMs?: number;
}

export type EdgeServer = YogaServerInstance<Record<string, unknown>, GraphQLContext>;

export interface Edge {
  yoga: EdgeServer;
  model: EdgeModel;
  /** The classify path of the API (tokenize → batched V2 infer → calibrated label), for eval runs. */
  classifyForEval(texts: string[], model: string): Promise<ClassifiedText[]>;
}

export function createEdge(options: EdgeOptions): Edge {
  const model = new EdgeModel(options.assets);
  const client = new V2Client({
    url: options.upstream.url,
    token: options.upstream.token,
    timeoutMs: options.upstream.timeoutMs ?? 10_000,
    fetch: options.upstream.fetch,
  });
  const verifier = new ModelVerifier(model, client);
  const maxBatch = options.upstream.maxBatch ?? 256;
  const defaultModel = options.upstream.model;
  // Stores take Cloudflare's full D1 type; the edge's own D1 interface is the subset it uses.
  const db = options.db as unknown as import("@cloudflare/workers-types").D1Database;
  const evals = options.evalRunner
    ? createEvalService({
        db,
        knownLabels: new Set(model.intents.map((i) => i.name)),
        defaultModel,
        runner: options.evalRunner,
        ...(options.evalStaleAfterMs ? { staleAfterMs: options.evalStaleAfterMs } : {}),
      })
    : undefined;

  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: "/graphql",
    landingPage: false,
    graphiql: options.development ?? false,
    maskedErrors: { isDev: options.development ?? false },
    cors: {
      origin: options.corsOrigins ?? "*",
      methods: ["GET", "POST", "OPTIONS"],
      allowedHeaders: ["authorization", "content-type"],
      credentials: false,
      maxAge: 600,
    },
    plugins: [
      useErrorCodes(),
      useLimits(options.limits),
      useApiKeys({ db: options.db, pepper: options.pepper }),
      useRateLimit(options.rateLimit),
      useIntrospectionPolicy({ allow: options.introspection ?? true }),
    ],
    context: ({ request }): GraphQLContext => {
      const loader = createInferLoader({ edge: model, client, verifier, maxBatch });
      return {
        auth: requestAuth(request) ?? null,
        classify(texts, { topK, model: requested }) {
          const name = requested ?? defaultModel;
          // loadMany is called synchronously so every field of the operation joins one batch.
          return loader.loadMany(texts.map((text) => ({ model: name, text }))).then((rows) =>
            rows.map((row, i): ClassificationInfo => {
              if (row instanceof Error) throw row;
              const best = topIndices(row.probabilities, topK);
              const scores: IntentScoreInfo[] = best.map((id) => ({
                intent: model.intents[id]!,
                score: row.probabilities[id]!,
              }));
              const top = scores[0]!;
              return {
                text: texts[i]!,
                intent: top.intent,
                score: top.score,
                topK: scores,
                tokens: row.tokens,
                truncated: row.truncated,
                outOfScope: isOutOfScope(top.score, row.calibration),
                model: row.model,
              };
            }),
          );
        },
        intents: {
          all: () => model.intents,
          byName: (name) => model.intentsByName.get(name),
        },
        models: () => listModels(client),
        latestIntentMetrics: latestIntentMetricsLoader(db),
        ...(evals ? { evals } : {}),
      };
    },
  });
  async function classifyForEval(texts: string[], name: string): Promise<ClassifiedText[]> {
    const loader = createInferLoader({ edge: model, client, verifier, maxBatch });
    const rows = await loader.loadMany(texts.map((text) => ({ model: name, text })));
    return rows.map((row) => {
      if (row instanceof Error) throw row;
      const [best] = topIndices(row.probabilities, 1);
      const score = row.probabilities[best!]!;
      return { label: model.intents[best!]!.name, score, outOfScope: isOutOfScope(score, row.calibration) };
    });
  }

  return { yoga, model, classifyForEval };
}

/** The upstream's models, with what gpu-service's bundle extension tells (Triton: metadata only). */
async function listModels(client: V2Client): Promise<ModelInfo[]> {
  const { models } = await client.listModels();
  return Promise.all(
    models.map(async ({ name, version }): Promise<ModelInfo> => {
      const [metadata, manifest, labels] = await Promise.all([
        client.modelMetadata(name),
        client.bundleJson(name).catch(() => null) as Promise<Partial<BundleManifest> | null>,
        client.labelsJson(name).catch(() => null) as Promise<Label[] | null>,
      ]);
      const param = (key: string): string | null => {
        const v = metadata.parameters?.[key];
        return v === undefined ? null : String(v);
      };
      return {
        name,
        version: manifest?.version ?? version ?? metadata.versions?.[0] ?? "",
        provider: param("provider"),
        variant: param("variant"),
        labels: Array.isArray(labels) ? labels.map(toIntentInfo) : [],
        validation: manifest?.metrics?.validation ?? null,
        test: manifest?.metrics?.test ?? null,
        temperature: manifest?.calibration?.temperature ?? null,
        outOfScopeThreshold: manifest?.calibration?.outOfScope.threshold ?? null,
      };
    }),
  );
}

/**
 * The edge, independent of how it is hosted: the Worker (index.ts) builds it from its bindings
 * through config.ts; tests build it in-process and call `edge.fetch` (or `yoga.fetch`).
 *
 * `edge.fetch` is the one gate: it serves exact routes only (/graphql, /dashboard, /health) and
 * answers anything else 404 before yoga runs; yoga then authenticates every request (use-api-keys),
 * limits it (use-limits, use-query-armor, use-rate-limit) and scope-auth checks every field.
 *
 * Everything per isolate (tokenizer, verified models, key cache, in-memory limiters) lives in the
 * returned object; everything per request (the DataLoader, the caller's key, the text budget) in
 * the context.
 */

import type { D1Database } from "@cloudflare/workers-types";
import type { BundleManifest, Label } from "@intentql/schema";
import { isOutOfScope, topIndices } from "@intentql/schema";
import { GraphQLError } from "graphql";
import { createYoga, type YogaServerInstance } from "graphql-yoga";
import { KeyStore } from "./auth/api-keys.ts";
import { type EdgeBundleAssets, EdgeModel, toIntentInfo } from "./classifier/edge-model.ts";
import { ALIAS_NAME, DEFAULT_ALIAS, ModelAliases, TooManyAliases } from "./classifier/model-aliases.ts";
import { DASHBOARD_HEADERS } from "./dashboard-headers.ts";
import { cancelRunsOfKey } from "./eval/eval-run-store.ts";
import type { ClassifiedText } from "./eval/eval-runner.ts";
import {
  createEvalService,
  datasetByIdLoader,
  latestIntentMetricsLoader,
  type RunnerLauncher,
} from "./eval/eval-service.ts";
import { renderGraphiQLPage } from "./graphiql-page.ts";
import type {
  ApiKeyAdmin,
  ClassificationInfo,
  GraphQLContext,
  IntentInfo,
  IntentScoreInfo,
  MeasuredSplit,
  ModelAdmin,
  ModelInfo,
} from "./graphql/builder.ts";
import { ErrorCode } from "./graphql/errors.ts";
import { schema } from "./graphql/index.ts";
import {
  memoryRateLimiter,
  type RateLimiter,
  TEXT_QUOTA_DEFAULTS,
  TokenBuckets,
} from "./limits/rate-limiter.ts";
import { SubscriptionGate, type SubscriptionLimits } from "./limits/subscription-gate.ts";
import type { KeyLeases } from "./limits/subscription-leases.ts";
import { OperationTextBudget, type TextLimits } from "./limits/text-budget.ts";
import { errorResponse, rateLimitedError } from "./plugins/error-response.ts";
import { clientIp, keyStillValid, requestAuth, useApiKeys } from "./plugins/use-api-keys.ts";
import { useErrorCodes } from "./plugins/use-error-codes.ts";
import { useIntrospectionPolicy } from "./plugins/use-introspection-policy.ts";
import { useJsonParams } from "./plugins/use-json-params.ts";
import { type UseLimitsOptions, useLimits } from "./plugins/use-limits.ts";
import { type UseQueryArmorOptions, useQueryArmor } from "./plugins/use-query-armor.ts";
import { type UseQueryCostOptions, useQueryCost } from "./plugins/use-query-cost.ts";
import { useRateLimit } from "./plugins/use-rate-limit.ts";
import { RequestPlaces, useSubscriptionPlaces } from "./plugins/use-subscription-places.ts";
import { useSubscriptionRootRule } from "./plugins/use-subscription-root-rule.ts";
import { createInferLoader } from "./upstream/infer-loader.ts";
import { V2Client } from "./upstream/v2-client.ts";
import { ModelVerifier } from "./upstream/verify-model.ts";

export interface ClassifierOptions {
  assets: EdgeBundleAssets;
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
}

export interface EdgeLimiters {
  /** Requests per API key. Default: in memory, 50/s with bursts of 100. */
  requestsPerKey?: RateLimiter;
  /** Key-less requests and key lookups that miss the cache, per client IP. Default: in memory, 5/s, bursts of 20. */
  requestsPerIp?: RateLimiter;
  /** Texts per API key, charged once per classify operation. Default: in memory, 200/s, bursts of 2,000. */
  textsPerKey?: RateLimiter;
}

export interface EdgeOptions extends ClassifierOptions {
  db: D1Database;
  pepper: string;
  /** How long an isolate trusts a verified key (revocation delay elsewhere). Default 30,000 ms, at most 60,000. */
  apiKeyCacheTtlMs?: number;
  limits?: UseLimitsOptions;
  queryLimits?: UseQueryArmorOptions;
  /** How long an isolate reuses the upstream's model list for `models`. Default 5,000 ms. */
  modelListTtlMs?: number;
  /** The cost of the operation as it will run (its variables and argument defaults applied). */
  queryCost?: UseQueryCostOptions;
  textLimits?: TextLimits;
  /** Subscriptions open at once per key and per isolate (limits/subscription-gate.ts). */
  subscriptionLimits?: SubscriptionLimits;
  /** A key's subscription places across isolates (the Worker: SUBSCRIPTION_LEASES). Absent: this isolate's count alone. */
  subscriptionLeases?: KeyLeases;
  limiters?: EdgeLimiters;
  /** Development: error details, GraphiQL, field suggestions, key-less catalog reads. Default false. */
  development?: boolean;
  /** Development only: the key GraphiQL's Authorization header is prefilled with (npm start's local key). */
  graphiqlApiKey?: string;
  /** Allowed CORS origins; "*" (the default) suits a bearer-token API with no cookies. */
  corsOrigins?: string[] | "*";
  introspection?: boolean;
  /** Starts eval runs in the background (the Worker: the EvalRunner Durable Object). Without it,
   * eval-run fields answer that eval runs are not configured. */
  evalRunner?: RunnerLauncher;
  /** A running eval run silent for this long is restarted when looked at. Default 30,000 ms. */
  evalStaleAfterMs?: number;
  /** The dashboard page served at /dashboard (the Worker embeds it); absent: 404. */
  dashboardHtml?: string;
}

export type EdgeServer = YogaServerInstance<Record<string, unknown>, GraphQLContext>;

/** The classify path (tokenize → batched V2 infer → calibrated label) without GraphQL. */
export interface Classifier {
  model: EdgeModel;
  client: V2Client;
  verifier: ModelVerifier;
  maxBatch: number;
  defaultModel: string;
  /** For eval runs: one text in, one label out, same path as the API's. */
  classifyForEval(texts: string[], model: string): Promise<ClassifiedText[]>;
  /** A served model's intents in logit order (the embedded ones, or a learnt model's). */
  intentsOf(model: string): Promise<readonly IntentInfo[]>;
}

export interface Edge {
  /** The one entry point: routes, then yoga. */
  fetch(request: Request, serverContext?: Record<string, unknown>): Promise<Response>;
  yoga: EdgeServer;
  model: EdgeModel;
  keys: KeyStore;
  classifier: Classifier;
}

export function createClassifier(options: ClassifierOptions): Classifier {
  const model = new EdgeModel(options.assets);
  const client = new V2Client({
    url: options.upstream.url,
    token: options.upstream.token,
    timeoutMs: options.upstream.timeoutMs ?? 10_000,
    fetch: options.upstream.fetch,
  });
  const verifier = new ModelVerifier(model, client);
  const maxBatch = options.upstream.maxBatch ?? 256;
  return {
    model,
    client,
    verifier,
    maxBatch,
    defaultModel: options.upstream.model,
    intentsOf: async (name) => (await verifier.verify(name)).model.intents,
    async classifyForEval(texts, name) {
      const loader = createInferLoader({ client, verifier, maxBatch });
      const rows = await loader.loadMany(texts.map((text) => ({ model: name, text })));
      return rows.map((row) => {
        if (row instanceof Error) throw row;
        const [best] = topIndices(row.probabilities, 1);
        const score = row.probabilities[best!]!;
        return { label: row.intents[best!]!.name, score, outOfScope: isOutOfScope(score, row.calibration) };
      });
    },
  };
}

/**
 * The Worker's `ctx.waitUntil` (the fetch handler passes `{ env, ctx }` as yoga's server context),
 * bound; absent in-process. A subscription's place is given back after its client has gone, which
 * the request's own lifetime no longer covers.
 */
function keepAliveOf(server: Record<string, unknown>): ((work: Promise<unknown>) => void) | undefined {
  const ctx = server.ctx as { waitUntil?: (work: Promise<unknown>) => void } | undefined;
  return typeof ctx?.waitUntil === "function" ? ctx.waitUntil.bind(ctx) : undefined;
}

export function createEdge(options: EdgeOptions): Edge {
  const classifier = createClassifier(options);
  const { model, client, verifier, maxBatch, defaultModel } = classifier;
  const development = options.development ?? false;
  const keys = new KeyStore({ db: options.db, pepper: options.pepper, ttlMs: options.apiKeyCacheTtlMs });
  const subscriptionGate = new SubscriptionGate(options.subscriptionLimits, options.subscriptionLeases);
  const subscriptionPlaces = new RequestPlaces();
  const limiters = {
    requestsPerKey: options.limiters?.requestsPerKey ?? memoryRateLimiter(new TokenBuckets(50, 100)),
    requestsPerIp: options.limiters?.requestsPerIp ?? memoryRateLimiter(new TokenBuckets(5, 20)),
    textsPerKey:
      options.limiters?.textsPerKey ??
      memoryRateLimiter(new TokenBuckets(TEXT_QUOTA_DEFAULTS.perSecond, TEXT_QUOTA_DEFAULTS.burst)),
  };
  const { db } = options;
  const aliases = new ModelAliases(db, defaultModel);
  /** A requested name (or the default, for null) as the model name it resolves to. */
  const modelNameOf = async (name: string | null) => (await aliases.resolve(name)).model;
  // A revoked key stops spending: its eval runs are cancelled with it (a runner sees it at its next chunk).
  const keyAdmin: ApiKeyAdmin = {
    list: (includeRevoked, first) => keys.list(includeRevoked, first),
    create: (name, scopes) => keys.create(name, scopes),
    async revoke(id) {
      const revoked = await keys.revoke(id);
      if (revoked) await cancelRunsOfKey(db, id);
      return revoked;
    },
  };
  const modelList = cachedModelList(() => listModels(client), options.modelListTtlMs ?? 5_000);
  const modelAdmin: ModelAdmin = {
    aliases: () => aliases.list(),
    async setAlias(alias, target) {
      if (!ALIAS_NAME.test(alias) || alias === target)
        throw new GraphQLError(
          `alias "${alias}" must be 1-64 letters, digits, ".", "_" or "-", and not the model's own name`,
          { extensions: { code: ErrorCode.BAD_USER_INPUT } },
        );
      // Only a model the upstream serves now, pinned to the version it serves.
      const verified = await verifier.verify(target);
      return aliases.set(alias, target, verified.version).catch((error: unknown) => {
        if (error instanceof TooManyAliases)
          throw new GraphQLError(error.message, { extensions: { code: ErrorCode.BAD_USER_INPUT } });
        throw error;
      });
    },
    removeAlias: (alias) => aliases.remove(alias),
    async load(name) {
      await client.repository(name, "load");
      verifier.forget(name);
      modelList.forget();
    },
    async unload(name) {
      await client.repository(name, "unload");
      verifier.forget(name);
      modelList.forget();
    },
  };
  const evals = options.evalRunner
    ? createEvalService({
        db,
        labelsOf: async (name) => (await classifier.intentsOf(name)).map((i) => i.name),
        resolveModel: modelNameOf,
        runner: options.evalRunner,
        ...(options.evalStaleAfterMs ? { staleAfterMs: options.evalStaleAfterMs } : {}),
      })
    : undefined;

  const corsOptions = {
    origin: options.corsOrigins ?? "*",
    methods: ["GET", "POST", "OPTIONS"],
    allowedHeaders: ["authorization", "content-type"],
    credentials: false,
    maxAge: 600,
  };
  const yoga = createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: "/graphql",
    landingPage: false,
    // GraphiQL in development only; its queries pass the key gate. The page carries the local key
    // only when it is asked for by a loopback host name (not through a DNS name an attacker's page
    // rebinds to 127.0.0.1), and it is never readable cross-origin (see `cors`).
    graphiql: development
      ? (request: Request) => ({
          title: "IntentQL",
          defaultQuery:
            '{\n  classify(texts: ["please cancel my alarm"], topK: 3) {\n    intent { name }\n    score\n    outOfScope\n  }\n}\n',
          headers: JSON.stringify(
            options.graphiqlApiKey && isLoopbackHost(request)
              ? { authorization: `Bearer ${options.graphiqlApiKey}` }
              : {},
          ),
        })
      : false,
    // yoga's page with every file from unpkg pinned by its hash (graphiql-page.ts): it holds the key.
    renderGraphiQL: renderGraphiQLPage,
    maskedErrors: { isDev: development },
    // No CORS headers on a page (GET asking for HTML): with "*", any web page could read GraphiQL's
    // HTML, and with it the local key. API calls keep CORS (bearer keys, no cookies).
    cors: (request: Request) => (isPageRequest(request) ? false : corsOptions),
    plugins: [
      useErrorCodes(),
      useLimits(options.limits),
      useJsonParams(),
      useApiKeys({ keys, allowAnonymous: development, ipLimiter: limiters.requestsPerIp }),
      useRateLimit({ limiter: limiters.requestsPerKey }),
      useQueryArmor({ fieldSuggestions: development, ...options.queryLimits }),
      useQueryCost(options.queryCost),
      useIntrospectionPolicy({ allow: options.introspection ?? true }),
      useSubscriptionRootRule(),
      useSubscriptionPlaces(subscriptionPlaces),
    ],
    context: ({ request, ...server }): GraphQLContext => {
      const auth = requestAuth(request) ?? null;
      const budget = new OperationTextBudget(options.textLimits);
      const loader = createInferLoader({
        client,
        verifier,
        maxBatch,
        resolve: (name) => aliases.resolve(name),
        // Runs once per operation, after every classify field has resolved its arguments.
        async beforeDispatch() {
          if (budget.refusal) throw budget.refusal;
          if (!auth) return; // development only: key-less callers cannot reach classify
          const decision = await limiters.textsPerKey.limit(auth.keyId, budget.texts);
          if (!decision.ok) throw rateLimitedError(decision.retryAfterSeconds, `texts for this API key`);
        },
      });
      return {
        auth,
        anonymousCatalog: development,
        signal: request.signal,
        classify(texts, { topK, model: requested }) {
          const name = requested ?? DEFAULT_ALIAS;
          budget.admit(texts, name);
          // loadMany is called synchronously so every field of the operation joins one batch.
          return loader.loadMany(texts.map((text) => ({ model: name, text }))).then((rows) =>
            rows.map((row, i): ClassificationInfo => {
              if (row instanceof Error) throw row;
              const best = topIndices(row.probabilities, topK);
              const scores: IntentScoreInfo[] = best.map((id) => ({
                intent: row.intents[id]!,
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
          ofModel: classifier.intentsOf,
        },
        models: () => modelList.get(),
        latestIntentMetrics: latestIntentMetricsLoader(db, modelNameOf),
        datasetById: datasetByIdLoader(db),
        subscriptions: {
          enter: async () => {
            const place = await subscriptionGate.enter(
              auth?.keyId ?? `ip:${clientIp(request)}`,
              keepAliveOf(server),
            );
            subscriptionPlaces.track(request, place);
            return place;
          },
          keyStillValid: () => keyStillValid(keys, request),
        },
        apiKeys: keyAdmin,
        modelAdmin,
        ...(evals ? { evals } : {}),
      };
    },
  });

  async function fetchEdge(request: Request, serverContext: Record<string, unknown> = {}): Promise<Response> {
    const { pathname } = new URL(request.url);
    switch (pathname) {
      case "/graphql":
        return yoga.fetch(request, serverContext);
      case "/dashboard":
        if (options.dashboardHtml === undefined) break;
        if (request.method !== "GET" && request.method !== "HEAD")
          return errorResponse(405, ErrorCode.BAD_REQUEST, "method not allowed: use GET", {
            allow: "GET, HEAD",
          });
        // Static: it fetches /graphql with the caller's key like any client.
        return new Response(request.method === "HEAD" ? null : options.dashboardHtml, {
          headers: DASHBOARD_HEADERS,
        });
      case "/health":
        // Liveness of the edge only: no upstream call, no data, no key.
        return new Response(JSON.stringify({ status: "ok" }), {
          headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
        });
    }
    return errorResponse(404, ErrorCode.NOT_FOUND, "not found: the API is at /graphql");
  }

  return { fetch: fetchEdge, yoga, model, keys, classifier };
}

/** A browser navigating to a page (GraphiQL), not an API call. */
function isPageRequest(request: Request): boolean {
  return request.method === "GET" && (request.headers.get("accept") ?? "").includes("text/html");
}

function isLoopbackHost(request: Request): boolean {
  const host = new URL(request.url).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

/**
 * The `models` field's answer, fetched at most once per `ttlMs` per isolate, one fetch in flight
 * shared by every request that asks meanwhile: listing costs 1 + 3 × (models served) upstream calls,
 * and without this, each `models` alias of each request paid them again. Failures are not kept.
 */
function cachedModelList(fetchList: () => Promise<ModelInfo[]>, ttlMs: number) {
  let entry: { at: number; list: Promise<ModelInfo[]> } | null = null;
  return {
    get(): Promise<ModelInfo[]> {
      if (entry && Date.now() - entry.at < ttlMs) return entry.list;
      const list = fetchList();
      const current = { at: Date.now(), list };
      entry = current;
      list.catch(() => {
        if (entry === current) entry = null;
      });
      return list;
    },
    /** After a model is loaded or unloaded here: the next request lists afresh. */
    forget(): void {
      entry = null;
    },
  };
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
        labels: Array.isArray(labels) ? labels.map((label) => toIntentInfo(label)) : [],
        validation: measured(manifest?.metrics, "validation"),
        test: measured(manifest?.metrics, "test"),
        temperature: manifest?.calibration?.temperature ?? null,
        outOfScopeThreshold: manifest?.calibration?.outOfScope?.threshold ?? null,
      };
    }),
  );
}

/** A split's metrics with the bundle's note on them (`validationNote`, `testNote`), if any. */
function measured(
  metrics: BundleManifest["metrics"] | undefined,
  split: "validation" | "test",
): MeasuredSplit | null {
  const m = metrics?.[split];
  if (!m) return null;
  const note = metrics[`${split}Note`];
  return { n: m.n, accuracy: m.accuracy, f1Macro: m.f1Macro, note: typeof note === "string" ? note : null };
}

/**
 * The models gpu-service serves, and the KServe V2 model repository extension over them: every
 * bundle folder under `--model-repository DIR` (its folder name is its model name), plus the
 * `--bundle` folders. Each model has its own session threads, batcher and readiness; models are
 * loaded, reloaded and unloaded at runtime without touching the others:
 * - load: a new copy is opened and warmed up while the old one (if any) keeps serving, then swapped
 *   in; the old one drains its queue and closes. A failed load leaves the old one serving.
 * - unload: the model leaves the routing table at once (new requests get 404), and its queued
 *   requests are still answered before its sessions close.
 * Operations on one model run one after the other; different models do not wait for each other.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import { type PeerListener, SessionPool } from "./backends/session-pool.ts";
import { loadBundle } from "./bundle/load-bundle.ts";
import { type Config, splitRowsFor } from "./config.ts";
import type { RunReport } from "./core/batch.ts";
import { Batcher } from "./core/batcher.ts";
import { systemClock } from "./core/clock.ts";
import type { PaddingPolicy } from "./core/run-form.ts";
import { shapeBuckets, useShapeBuckets } from "./core/shape-buckets.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { RouterState, ServedModel } from "./router/server.ts";

/**
 * What an HTTP thread needs to run a request itself on an idle model, straight to a session thread
 * (backends/session-pool.ts, "Direct runs"): the pool's gate, the batcher's padding and limits, and
 * ports to the session threads.
 */
export interface DirectRuns {
  /** The session pool's number, unique in the process (a reload makes a new pool). */
  pool: number;
  /** One Int32 over a SharedArrayBuffer. */
  gate: Int32Array;
  padding: PaddingPolicy;
  maxBatchSize: number;
  maxBatchTokens: number;
  connectPeers(listener: PeerListener): () => void;
}

/** A model served from this thread: the router's view plus the Batcher itself, to drain it. */
export type LocalModel = ServedModel & { batcher: Batcher; direct?: DirectRuns };

/** A repository operation the caller got wrong (the router answers 400, or 404 for `missing`). */
export class RepositoryError extends Error {
  constructor(
    message: string,
    readonly missing = false,
  ) {
    super(message);
    this.name = "RepositoryError";
  }
}

export interface RepositoryEntry {
  name: string;
  version?: string;
  state: "READY" | "UNAVAILABLE" | "UNLOADED";
  reason?: string;
}

export interface ModelRepositoryOptions {
  config: Config;
  metrics: Metrics;
  log: Logger;
  state: RouterState<LocalModel>;
}

/** The same rule bundle.json names follow: no path separators, no leading dot. */
const MODEL_NAME = /^[a-z0-9][a-z0-9._-]*$/i;

export class ModelRepository {
  readonly #pools = new Map<string, SessionPool>();
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #failures = new Map<string, string>();

  constructor(private readonly options: ModelRepositoryOptions) {}

  /** The repository folder, or undefined when gpu-service serves only `--bundle` folders. */
  get root(): string | undefined {
    const root = this.options.config.modelRepository;
    return root === undefined ? undefined : resolve(root);
  }

  /**
   * Loads every bundle folder under the repository (at startup). A folder that does not load is
   * logged (`model_load_failed`) and listed UNLOADED with its reason in the index, and the others
   * serve: one half-copied or hand-edited folder must not keep every model down on each restart.
   * Fails only when there were folders and none loaded, and no `--bundle` model serves either.
   */
  async loadAll(): Promise<void> {
    const folders = this.#folders();
    const failed: string[] = [];
    for (const name of folders)
      await this.load(name).catch((error: unknown) => {
        failed.push((error as Error).message);
        this.options.log.error("model_load_failed", { model: name, error: (error as Error).message });
      });
    if (folders.length > 0 && failed.length === folders.length && this.options.state.models.size === 0)
      throw new RepositoryError(`no model of the repository loaded: ${failed.join("; ")}`);
  }

  /** Every model the repository has or serves, with its state (`POST /v2/repository/index`). */
  index(): RepositoryEntry[] {
    const names = new Set([...this.#folders(), ...this.options.state.models.keys()]);
    return [...names].sort().map((name): RepositoryEntry => {
      const served = this.options.state.models.get(name);
      if (served)
        return {
          name,
          version: served.signature.version,
          state: served.ready() ? "READY" : "UNAVAILABLE",
        };
      const reason = this.#failures.get(name);
      return { name, state: "UNLOADED", ...(reason ? { reason } : {}) };
    });
  }

  /** Loads (or reloads) the bundle folder `name` of the repository. */
  load(name: string): Promise<void> {
    const root = this.root;
    if (root === undefined)
      return Promise.reject(
        new RepositoryError("no model repository: start gpu-service with --model-repository DIR"),
      );
    if (!MODEL_NAME.test(name)) return Promise.reject(new RepositoryError(`"${name}" is not a model name`));
    const dir = join(root, name);
    if (!dir.startsWith(root + sep) || !existsSync(join(dir, "bundle.json")))
      return Promise.reject(new RepositoryError(`no bundle folder ${name} in the model repository`, true));
    return this.#serially(name, async () => {
      try {
        await this.open(dir, name);
        this.#failures.delete(name);
      } catch (error) {
        this.#failures.set(name, (error as Error).message);
        throw new RepositoryError(`cannot load ${name}: ${(error as Error).message}`);
      }
    });
  }

  /** Stops serving `name`: out of the routing table now, its queued requests answered, then closed. */
  unload(name: string): Promise<void> {
    if (!this.options.state.models.has(name))
      return Promise.reject(new RepositoryError(`model ${name} is not loaded`, true));
    return this.#serially(name, async () => {
      const served = this.options.state.models.get(name);
      if (!served) return;
      this.options.state.models.delete(name);
      await this.#retire(name, served);
      this.options.log.info("model_unloaded", { model: name });
    });
  }

  /**
   * Opens a bundle folder and serves it, replacing a model of the same name once the new one is
   * warm. `expectName` (repository loads) requires the bundle to be named after its folder.
   */
  async open(dir: string, expectName?: string): Promise<void> {
    const { config, metrics, log, state } = this.options;
    const started = performance.now();
    const bundle = await loadBundle(dir);
    const m = bundle.manifest;
    if (expectName !== undefined && m.name !== expectName)
      throw new Error(
        `the bundle in folder ${expectName} is named ${m.name}: a repository folder is named after its model`,
      );
    if (expectName === undefined && state.models.has(m.name))
      throw new Error(`two bundles are named ${m.name}`);
    if (config.maxBatchTokens < m.maxLength)
      throw new Error(
        `--max-batch-tokens ${config.maxBatchTokens} is below ${m.name}'s maxLength ${m.maxLength}`,
      );
    const vocab = bundle.vocabText.split("\n");
    const clsId = BigInt(Math.max(0, vocab.indexOf("[CLS]")));
    const padId = BigInt(Math.max(0, vocab.indexOf("[PAD]")));
    const labels = { model: m.name };
    const variantFor = (provider: "cuda" | "cpu") => config.variant ?? m.defaultVariant[provider];
    const recordRun = (run: RunReport) => {
      metrics.modelRuns.inc(labels);
      if (!run.ok) return;
      if (run.parts > 1) metrics.splitRuns.inc(labels);
      metrics.rows.inc(labels, run.rows);
      metrics.batchRows.observe(labels, run.rows);
      metrics.batchTokens.observe(labels, run.tokens);
      metrics.inferenceSeconds.observe(labels, run.ms / 1000);
    };
    const pool = await SessionPool.open({
      models: {
        cuda: { path: bundle.modelPath(variantFor("cuda")), variant: variantFor("cuda") },
        cpu: { path: bundle.modelPath(variantFor("cpu")), variant: variantFor("cpu") },
      },
      device: config.device,
      intraOpThreads: config.intraOpThreads,
      spinWaitUs: config.spinWaitUs,
      where: m.name,
      outputName: m.outputs[0]!.name,
      warmUp: {
        maxBatchSize: config.maxBatchSize,
        maxBatchTokens: config.maxBatchTokens,
        maxSeqLength: m.maxLength,
        clsId,
        maxId: BigInt(m.tokenizer.vocabSize - 1),
        labelCount: m.labels.count,
        shapeBuckets: config.shapeBuckets,
      },
      // Two runs in flight keep a GPU busy while the next batch forms; on CPU one run already uses
      // every core, and a second would only contend with it.
      size: (provider) => config.maxInFlight || (provider === "cuda" ? 2 : 1),
      log,
      onReadyChange: (ready) => log.info("model_ready", { model: m.name, ready }),
      onDirectRun: (run) => {
        metrics.directRuns.inc(labels);
        recordRun(run);
      },
    });
    if (pool.fallbackReason !== undefined)
      log.warn("cuda_fallback", { model: m.name, reason: pool.fallbackReason });
    const batcher = new Batcher({
      maxBatchSize: config.maxBatchSize,
      maxBatchTokens: config.maxBatchTokens,
      maxQueueDelayUs: config.maxQueueDelayUs,
      maxQueueRows: config.maxQueueRows,
      maxRequestRows: config.maxRequestRows,
      maxInFlight: pool.size,
      padMultiple: config.padMultiple,
      minSplitRows: splitRowsFor(config.minSplitRows, pool.provider),
      maxSeqLength: m.maxLength,
      ...(useShapeBuckets(config.shapeBuckets, pool.provider)
        ? { shapeBuckets: shapeBuckets(config.maxBatchSize, m.maxLength) }
        : {}),
      padId,
      clock: systemClock,
      run: (batch) => {
        metrics.queueDepth.set(labels, batcher.stats().queuedRows);
        return pool.run(batch);
      },
      onRun: (run) => {
        metrics.queueDepth.set(labels, batcher.stats().queuedRows);
        recordRun(run);
      },
      onDequeue: (waitMs) => metrics.queueWait.observe(labels, waitMs / 1000),
    });
    const served: LocalModel = {
      signature: {
        name: m.name,
        version: m.version,
        maxLength: m.maxLength,
        vocabSize: m.tokenizer.vocabSize,
        inputNames: m.inputs.map((i) => i.name),
        outputName: m.outputs[0]!.name,
      },
      batcher,
      direct: {
        pool: pool.id,
        gate: pool.gate,
        padding: batcher.paddingPolicy(),
        maxBatchSize: config.maxBatchSize,
        maxBatchTokens: config.maxBatchTokens,
        connectPeers: (listener) => pool.connectPeers(listener),
      },
      ready: () => pool.ready(),
      provider: pool.provider,
      variant: pool.variant,
      labelsJson: JSON.stringify(bundle.labels),
      bundleJson: JSON.stringify(m),
      vocabText: bundle.vocabText,
      inputs: m.inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape })),
      outputs: m.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape })),
    };
    const previous = state.models.get(m.name);
    const previousPool = this.#pools.get(m.name);
    state.models.set(m.name, served);
    this.#pools.set(m.name, pool);
    log.info("model_loaded", {
      model: m.name,
      version: m.version,
      provider: pool.provider,
      variant: pool.variant,
      ...(pool.fallbackReason ? { fallbackReason: pool.fallbackReason } : {}),
      sessionThreads: pool.size,
      warmupRuns: pool.warmupRuns,
      ms: Math.round(performance.now() - started),
      ...(previous ? { replaced: previous.signature.version } : {}),
    });
    if (previous && previousPool) await this.#close(previous, previousPool);
  }

  /** Drains and closes every model (shutdown). */
  async closeAll(): Promise<void> {
    const models = [...this.options.state.models];
    await Promise.all(models.map(([, served]) => served.batcher.close().catch(() => undefined)));
    await Promise.all([...this.#pools.values()].map((p) => p.close().catch(() => undefined)));
    this.#pools.clear();
  }

  async #retire(name: string, served: LocalModel): Promise<void> {
    const pool = this.#pools.get(name);
    this.#pools.delete(name);
    if (pool) await this.#close(served, pool);
  }

  /** The batcher answers what it holds before the sessions go. */
  async #close(served: LocalModel, pool: SessionPool): Promise<void> {
    await served.batcher.close().catch(() => undefined);
    await pool.close().catch(() => undefined);
  }

  #serially(name: string, work: () => Promise<void>): Promise<void> {
    const next = (this.#queues.get(name) ?? Promise.resolve()).catch(() => undefined).then(work);
    this.#queues.set(name, next);
    void next
      .finally(() => {
        if (this.#queues.get(name) === next) this.#queues.delete(name);
      })
      .catch(() => undefined);
    return next;
  }

  #folders(): string[] {
    const root = this.root;
    if (root === undefined || !existsSync(root)) return [];
    return readdirSync(root)
      .filter((name) => MODEL_NAME.test(name) && statSync(join(root, name)).isDirectory())
      .filter((name) => existsSync(join(root, name, "bundle.json")))
      .sort();
  }
}

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SessionPool } from "./backends/session-pool.ts";
import { loadBundle } from "./bundle/load-bundle.ts";
import type { Config } from "./config.ts";
import { Batcher } from "./core/batcher.ts";
import { systemClock } from "./core/clock.ts";
import type { Logger } from "./log.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { createHandler, type RouterState, type ServedModel } from "./router/server.ts";

export interface RunningService {
  url: string;
  metrics: Metrics;
  state: RouterState;
  /** Stops accepting, lets every queued row run, closes sessions. */
  close(): Promise<void>;
}

/**
 * Loads and verifies every bundle, opens its sessions (one per worker thread, warmed up), then
 * reports ready. The server listens first (live, not ready) so orchestrators can tell "starting"
 * from "dead".
 */
export async function startService(config: Config, log: Logger): Promise<RunningService> {
  const metrics = createMetrics();
  const state: RouterState = { phase: "loading", models: new Map() };
  if (config.authTokens.length === 0)
    log.warn("auth_disabled", { reason: "--insecure-no-auth: every caller is trusted" });
  const server: Server = createServer(
    createHandler({
      authTokens: config.authTokens,
      bodyLimitBytes: config.bodyLimitBytes,
      requestTimeoutMs: config.requestTimeoutMs,
      maxRequestRows: config.maxRequestRows,
      log,
      metrics,
      state,
    }),
  );
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  const pools: SessionPool[] = [];
  try {
    for (const dir of config.bundles) {
      const started = performance.now();
      const bundle = await loadBundle(dir);
      const m = bundle.manifest;
      if (state.models.has(m.name)) throw new Error(`two bundles are named ${m.name}`);
      if (config.maxBatchTokens < m.maxLength)
        throw new Error(
          `--max-batch-tokens ${config.maxBatchTokens} is below ${m.name}'s maxLength ${m.maxLength}`,
        );
      const vocab = bundle.vocabText.split("\n");
      const clsId = BigInt(Math.max(0, vocab.indexOf("[CLS]")));
      const padId = BigInt(Math.max(0, vocab.indexOf("[PAD]")));
      const labels = { model: m.name };
      const variantFor = (provider: "cuda" | "cpu") => config.variant ?? m.defaultVariant[provider];
      const pool = await SessionPool.open({
        models: {
          cuda: { path: bundle.modelPath(variantFor("cuda")), variant: variantFor("cuda") },
          cpu: { path: bundle.modelPath(variantFor("cpu")), variant: variantFor("cpu") },
        },
        device: config.device,
        intraOpThreads: config.intraOpThreads,
        where: m.name,
        outputName: m.outputs[0]!.name,
        warmUp: {
          maxBatchSize: config.maxBatchSize,
          maxBatchTokens: config.maxBatchTokens,
          maxSeqLength: m.maxLength,
          clsId,
        },
        // Two runs in flight keep a GPU busy while the next batch forms; on CPU one run already
        // uses every core, and a second would only contend with it.
        size: (provider) => config.maxInFlight || (provider === "cuda" ? 2 : 1),
        log,
        onReadyChange: (ready) => log.info("model_ready", { model: m.name, ready }),
      });
      pools.push(pool);
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
        maxSeqLength: m.maxLength,
        padId,
        clock: systemClock,
        run: (batch) => {
          metrics.queueDepth.set(labels, batcher.stats().queuedRows);
          return pool.run(batch);
        },
        onRun: ({ rows, seqLength, ms, ok }) => {
          metrics.modelRuns.inc(labels);
          metrics.queueDepth.set(labels, batcher.stats().queuedRows);
          if (!ok) return;
          metrics.rows.inc(labels, rows);
          metrics.batchRows.observe(labels, rows);
          metrics.batchTokens.observe(labels, rows * seqLength);
          metrics.inferenceSeconds.observe(labels, ms / 1000);
        },
        onDequeue: (waitMs) => metrics.queueWait.observe(labels, waitMs / 1000),
      });
      const served: ServedModel = {
        signature: {
          name: m.name,
          version: m.version,
          maxLength: m.maxLength,
          vocabSize: m.tokenizer.vocabSize,
          inputNames: m.inputs.map((i) => i.name),
          outputName: m.outputs[0]!.name,
        },
        batcher,
        ready: () => pool.ready(),
        provider: pool.provider,
        variant: pool.variant,
        labelsJson: JSON.stringify(bundle.labels),
        bundleJson: JSON.stringify(m),
        vocabText: bundle.vocabText,
        inputs: m.inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape })),
        outputs: m.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape })),
      };
      state.models.set(m.name, served);
      log.info("model_loaded", {
        model: m.name,
        version: m.version,
        provider: pool.provider,
        variant: pool.variant,
        ...(pool.fallbackReason ? { fallbackReason: pool.fallbackReason } : {}),
        sessionThreads: pool.size,
        warmupRuns: pool.warmupRuns,
        ms: Math.round(performance.now() - started),
      });
    }
  } catch (error) {
    server.close();
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
    throw error;
  }
  state.phase = "ready";

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      state.phase = "draining";
      // Stop accepting connections; requests already queued still get their answers.
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...state.models.values()].map((m) => m.batcher.close()));
      server.closeIdleConnections();
      const forced = setTimeout(() => server.closeAllConnections(), 2000);
      await serverClosed;
      clearTimeout(forced);
      await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
    })();
    return closing;
  };
  return { url, metrics, state, close };
}

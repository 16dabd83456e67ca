import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { type LocalModel, ModelRepository } from "./model-repository.ts";
import { HttpThreads } from "./router/http-threads.ts";
import { applyServerTimeouts, createHandler, type RouterState } from "./router/server.ts";

export interface RunningService {
  url: string;
  metrics: Metrics;
  state: RouterState<LocalModel>;
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
  const state: RouterState<LocalModel> = { phase: "loading", models: new Map() };
  const repository = new ModelRepository({ config, metrics, log, state });
  if (config.authTokens.length === 0)
    log.warn("auth_disabled", { reason: "--insecure-no-auth: every caller is trusted" });
  const routerOptions = {
    authTokens: config.authTokens,
    bodyLimitBytes: config.bodyLimitBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    maxRequestRows: config.maxRequestRows,
    log,
    metrics,
    state,
    repository,
  };
  // HTTP on this thread, or on --http-threads threads that feed this thread's batchers.
  let server: Server | null = null;
  let threads: HttpThreads | null = null;
  let url: string;
  if (config.httpThreads > 0) {
    threads = await HttpThreads.start({
      ...routerOptions,
      threads: config.httpThreads,
      host: config.host,
      port: config.port,
      logLevel: config.logLevel,
    });
    url = threads.url;
  } else {
    const httpServer = createServer(createHandler(routerOptions));
    server = httpServer;
    applyServerTimeouts(httpServer);
    httpServer.on("connection", () => metrics.connections.inc({ thread: "main" }));
    await new Promise<void>((resolve, reject) => {
      httpServer.once("error", reject);
      httpServer.listen(config.port, config.host, () => resolve());
    });
    const address = httpServer.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    url = `http://${host}:${address.port}`;
  }

  try {
    for (const dir of config.bundles) await repository.open(dir);
    if (config.modelRepository !== undefined) await repository.loadAll();
  } catch (error) {
    server?.close();
    await threads?.close();
    await repository.closeAll();
    throw error;
  }
  state.phase = "ready";
  threads?.sync();

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      state.phase = "draining";
      threads?.sync();
      // Stop accepting connections; requests already queued still get their answers.
      threads?.stopAccepting();
      const serverClosed = new Promise<void>((resolve) =>
        server ? server.close(() => resolve()) : resolve(),
      );
      await Promise.all([...state.models.values()].map((m) => m.batcher.close()));
      if (server) {
        server.closeIdleConnections();
        const forced = setTimeout(() => server?.closeAllConnections(), 2000);
        await serverClosed;
        clearTimeout(forced);
      }
      await threads?.close();
      await repository.closeAll();
    })();
    return closing;
  };
  return { url, metrics, state, close };
}

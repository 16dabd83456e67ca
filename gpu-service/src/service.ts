import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { ModelRepository } from "./model-repository.ts";
import { createHandler, type RouterState } from "./router/server.ts";

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
  const repository = new ModelRepository({ config, metrics, log, state });
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
      repository,
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

  try {
    for (const dir of config.bundles) await repository.open(dir);
    if (config.modelRepository !== undefined) await repository.loadAll();
  } catch (error) {
    server.close();
    await repository.closeAll();
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
      await repository.closeAll();
    })();
    return closing;
  };
  return { url, metrics, state, close };
}

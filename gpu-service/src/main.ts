/**
 * gpu-service entrypoint: `node --import tsx gpu-service/src/main.ts [flags]` (or the bundled
 * `node dist/gpu-service.mjs`). Flags and env vars: gpu-service/README.md.
 */
import { ConfigError, HelpRequested, parseConfig } from "./config.ts";
import { createLogger } from "./log.ts";
import { startService } from "./service.ts";

async function main(): Promise<void> {
  let config: ReturnType<typeof parseConfig>;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof HelpRequested) {
      process.stdout.write(`${error.message}\n`);
      process.exit(0);
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`gpu-service: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  let service: Awaited<ReturnType<typeof startService>>;
  try {
    service = await startService(config, log);
  } catch (error) {
    log.error("start_failed", { error: (error as Error).message });
    process.exit(1);
  }
  const models = [...service.state.models.values()].map((m) => ({
    name: m.signature.name,
    version: m.signature.version,
    provider: m.provider,
    variant: m.variant,
  }));
  log.info("ready", { url: service.url, models });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info("shutdown", { signal });
    service.close().then(
      () => {
        log.info("stopped", {});
        process.exit(0);
      },
      (error: unknown) => {
        log.error("shutdown_failed", { error: String(error) });
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

// A rejection nobody handled is a bug whose state is unknown: log it and exit non-zero so the
// supervisor (Docker's restart policy, the ASG health check) restarts a clean process, rather than
// serve on with a batcher or a session that may be stuck.
process.on("unhandledRejection", (error) => {
  process.stderr.write(
    `${JSON.stringify({ level: "error", event: "unhandled_rejection", error: (error as Error)?.stack ?? String(error) })}\n`,
  );
  process.exit(1);
});

void main();

/**
 * Starts the real gpu-service (`gpu-service/src/main.ts`) as a child process on a free port with the
 * given flags, and waits for its "ready" log line. Shared by gpu-service's own integration tests and
 * the edge's tests.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";

export interface GpuServiceOptions {
  /** Extra CLI flags, e.g. ["--variant", "fp32", "--max-queue-rows", "4"]. */
  args?: string[];
  /** Bundle folders; default the committed models/massive-scratch. */
  bundles?: string[];
  /** Bearer token (≥ 32 characters); undefined starts the service with --insecure-no-auth. */
  authToken?: string;
  env?: Record<string, string>;
  /** Checkout whose gpu-service/src/main.ts runs (default this one; A/B benches pass another). */
  root?: string;
  /** Milliseconds to wait for readiness (default 60 s). */
  timeoutMs?: number;
}

export interface GpuServiceHandle {
  url: string;
  process: ChildProcess;
  /** Every log line the service wrote to stderr so far. */
  logs: string[];
  /** SIGTERM, then wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const ROOT = resolve(import.meta.dirname, "../..");

export function startGpuService(opts: GpuServiceOptions = {}): Promise<GpuServiceHandle> {
  const args = ["--import", "tsx", "gpu-service/src/main.ts", "--host", "127.0.0.1", "--port", "0"];
  args.push("--device", "cpu");
  for (const b of opts.bundles ?? []) args.push("--bundle", b);
  args.push(...(opts.authToken !== undefined ? ["--auth-token", opts.authToken] : ["--insecure-no-auth"]));
  args.push(...(opts.args ?? []));
  const child = spawn(process.execPath, args, {
    cwd: opts.root ?? ROOT,
    env: { ...process.env, INTENTQL_UPSTREAM_TOKEN: "", INTENTQL_UPSTREAM_TOKEN_NEXT: "", ...opts.env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    return exited;
  };
  return new Promise((resolvePromise, reject) => {
    let buffered = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`gpu-service not ready in time; logs:\n${logs.join("\n")}`));
    }, opts.timeoutMs ?? 60_000);
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      buffered += chunk;
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        logs.push(line);
        try {
          const event = JSON.parse(line) as { event?: string; url?: string };
          if (event.event === "ready" && event.url) {
            clearTimeout(timer);
            resolvePromise({ url: event.url, process: child, logs, stop });
          }
        } catch {
          // not JSON (onnxruntime's own messages): kept in logs only
        }
        nl = buffered.indexOf("\n");
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`gpu-service exited with ${code} before ready; logs:\n${logs.join("\n")}`));
    });
  });
}

/**
 * The local stack for the reliability suite: gpu-service on CPU (real model, child process, on a
 * port that survives a restart), the real Worker under workerd with a local D1 and test keys, and
 * the processes' ids for RSS. All on 127.0.0.1.
 */
import { generateApiKey } from "@intentql/edge";
import { type EdgeWorker, startEdgeWorker } from "../../support/edge-worker.ts";
import { type GpuServiceHandle, startGpuService } from "../../support/gpu-service.ts";
import { descendantsNamed } from "./processes.ts";

export const PEPPER = "reliability-pepper-not-secret";
export const UPSTREAM_TOKEN = "reliability-upstream-token-0123456789";

export interface Keys {
  /** Every scope. */
  admin: string;
  classifyOnly: string;
  evalOnly: string;
  revoked: string;
}

export function makeKeys(): Keys {
  return {
    admin: generateApiKey(),
    classifyOnly: generateApiKey(),
    evalOnly: generateApiKey(),
    revoked: generateApiKey(),
  };
}

export class GpuService {
  handle!: GpuServiceHandle;
  port = 0;
  constructor(readonly args: string[] = []) {}

  /** Starts (or restarts on the same port); resolves once the model is loaded and warmed. */
  async start(): Promise<number> {
    const started = performance.now();
    this.handle = await startGpuService({
      authToken: UPSTREAM_TOKEN,
      args: [...this.args, ...(this.port ? ["--port", String(this.port)] : [])],
      timeoutMs: 120_000,
    });
    this.port = Number(new URL(this.handle.url).port);
    return performance.now() - started;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.handle.process.pid!;
  }

  /** SIGKILL: no drain, connections cut, as a crash. */
  async kill(): Promise<void> {
    const exited = new Promise((r) => this.handle.process.once("exit", r));
    this.handle.process.kill("SIGKILL");
    await exited;
  }

  async stop(): Promise<void> {
    if (this.handle) await this.handle.stop();
  }
}

export interface Worker {
  edge: EdgeWorker;
  /** workerd processes that belong to this Worker (for RSS). */
  pids: number[];
}

/** Starts the Worker and tells which workerd processes it added. Start Workers one at a time. */
export async function startWorker(
  upstreamUrl: string,
  keys: Keys,
  vars: Record<string, string>,
  rateLimits?: Parameters<typeof startEdgeWorker>[0]["rateLimits"],
  inspector = false,
): Promise<Worker> {
  const before = new Set(descendantsNamed("workerd"));
  const edge = await startEdgeWorker({
    upstreamUrl,
    upstreamToken: UPSTREAM_TOKEN,
    pepper: PEPPER,
    keys: [
      { key: keys.admin, scopes: ["classify", "eval", "admin"] },
      { key: keys.classifyOnly, scopes: ["classify"] },
      { key: keys.evalOnly, scopes: ["eval"] },
      { key: keys.revoked, scopes: ["classify"], revoked: true },
    ],
    vars,
    ...(rateLimits ? { rateLimits } : {}),
    inspector,
  });
  return { edge, pids: descendantsNamed("workerd").filter((p) => !before.has(p)) };
}

export const CLASSIFY = "query ($t: [String!]!) { classify(texts: $t) { intent { name } score outOfScope } }";

export interface GqlAnswer {
  status: number;
  ms: number;
  body: { data?: any; errors?: { message: string; extensions?: { code?: string } }[] } | null;
  /** The first error code, "OK" when there is data and no error, or what went wrong on the wire. */
  code: string;
  text: string;
}

/** One GraphQL POST with a client-side abort (so a hang is seen as "CLIENT_ABORT", never waited for). */
export async function gql(
  url: string,
  key: string | null,
  query: string,
  variables: Record<string, unknown> = {},
  abortMs = 30_000,
  extraHeaders: Record<string, string> = {},
): Promise<GqlAnswer> {
  const headers: Record<string, string> = { "content-type": "application/json", ...extraHeaders };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const started = performance.now();
  try {
    const response = await fetch(`${url}/graphql`, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(abortMs),
    });
    const text = await response.text();
    const ms = performance.now() - started;
    let body: GqlAnswer["body"] = null;
    try {
      body = JSON.parse(text);
    } catch {
      return { status: response.status, ms, body: null, code: "NOT_JSON", text };
    }
    const code = body?.errors?.[0]?.extensions?.code ?? (body?.errors ? "NO_CODE" : "OK");
    return { status: response.status, ms, body, code, text };
  } catch (error) {
    const name = (error as Error).name;
    return {
      status: 0,
      ms: performance.now() - started,
      body: null,
      code: name === "TimeoutError" ? "CLIENT_ABORT" : "NETWORK_ERROR",
      text: String(error),
    };
  }
}

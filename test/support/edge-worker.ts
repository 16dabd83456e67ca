/**
 * The real Worker under workerd (wrangler's unstable_startWorker with edge/wrangler.toml), on a
 * fresh local D1 seeded with the given keys. One per test file: starting workerd costs seconds.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { EDGE_DIR, type KeyToStore, seedFreshLocalD1, WRANGLER_ENV } from "@intentql/edge/local-d1";
import { unstable_startWorker } from "wrangler";

Object.assign(process.env, WRANGLER_ENV);

export interface EdgeWorker {
  url: string;
  /** The isolate's DevTools inspector, when started with `inspector: true`. */
  inspectorUrl?: URL;
  persist: string;
  dispose(): Promise<void>;
}

export async function startEdgeWorker(opts: {
  upstreamUrl: string;
  upstreamToken?: string;
  pepper: string;
  keys: KeyToStore[];
  vars?: Record<string, string>;
  /** Override the limits wrangler.toml sets (the Rate Limiting bindings and the texts quota). */
  rateLimits?: {
    keyRequestsPer10s?: number;
    anonRequestsPer10s?: number;
    textsPerSecond?: number;
    textsBurst?: number;
  };
  /** Open the DevTools inspector (to read the isolate's heap). Default false. */
  inspector?: boolean;
  /** Reuse this local state (D1, Durable Objects) as it is: a restart of the same Worker. The caller owns it. */
  persistDir?: string;
}): Promise<EdgeWorker> {
  const owned = opts.persistDir === undefined;
  const persist = opts.persistDir ?? mkdtempSync(join(tmpdir(), "intentql-edge-"));
  if (owned) await seedFreshLocalD1(persist, opts.pepper, opts.keys);
  const text = (value: string) => ({ type: "plain_text" as const, value });
  const worker = await unstable_startWorker({
    config: resolve(EDGE_DIR, "wrangler.toml"),
    bindings: {
      UPSTREAM_URL: text(opts.upstreamUrl),
      UPSTREAM_TOKEN: text(opts.upstreamToken ?? ""),
      API_KEY_PEPPER: text(opts.pepper),
      ...rateLimitBindings(opts.rateLimits),
      ...Object.fromEntries(Object.entries(opts.vars ?? {}).map(([k, v]) => [k, text(v)])),
    } as never,
    dev: {
      persist,
      server: { hostname: "127.0.0.1", port: 0 },
      inspector: opts.inspector ? { hostname: "127.0.0.1", port: 0 } : false,
      watch: false,
      logLevel: "error",
    },
  });
  const url = (await worker.url).toString().replace(/\/$/, "");
  const inspectorUrl = opts.inspector ? await worker.inspectorUrl : undefined;
  return {
    url,
    ...(inspectorUrl ? { inspectorUrl } : {}),
    persist,
    async dispose() {
      await worker.dispose();
      if (owned) rmSync(persist, { recursive: true, force: true });
    },
  };
}

function rateLimitBindings(limits: NonNullable<Parameters<typeof startEdgeWorker>[0]["rateLimits"]> = {}) {
  const bindings: Record<string, unknown> = {};
  const ratelimit = (namespace_id: string, limit: number) => ({
    type: "ratelimit",
    namespace_id,
    simple: { limit, period: 10 },
  });
  if (limits.keyRequestsPer10s) bindings.KEY_REQUESTS = ratelimit("1001", limits.keyRequestsPer10s);
  if (limits.anonRequestsPer10s) bindings.ANON_REQUESTS = ratelimit("1002", limits.anonRequestsPer10s);
  const text = (value: number) => ({ type: "plain_text", value: String(value) });
  if (limits.textsPerSecond) bindings.TEXT_QUOTA_PER_SECOND = text(limits.textsPerSecond);
  if (limits.textsBurst ?? limits.textsPerSecond)
    bindings.TEXT_QUOTA_BURST = text(limits.textsBurst ?? limits.textsPerSecond!);
  return bindings;
}

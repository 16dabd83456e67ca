/**
 * The Cloudflare Worker. The model bundle's vocab.txt, labels.json and bundle.json are embedded at
 * build time (wrangler bundles the JSON; `rules` in wrangler.toml load vocab.txt as Text), so the
 * edge can tokenize and verify the upstream with no fetch of its own.
 */

import manifest from "../../models/massive-scratch/bundle.json";
import labels from "../../models/massive-scratch/labels.json";
import vocabText from "../../models/massive-scratch/vocab.txt";
import type { BundleManifest, Label } from "../../schema/src/bundle.ts";
import { ErrorCode } from "../../schema/src/graphql/errors.ts";
import dashboardHtml from "../dist/dashboard.html";
import { createEdge, type Edge } from "./app.ts";
import type { Env } from "./env.ts";
import { errorResponse } from "./plugins/error-response.ts";

export { EvalRunnerObject } from "./eval/eval-runner-object.ts";

let edge: Edge | undefined;
let edgeEnv: Env | undefined;

function number(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== "" && Number.isFinite(n) && n > 0 ? n : fallback;
}

export function edgeFromEnv(env: Env): Edge {
  if (!env.API_KEY_PEPPER)
    throw new Error("API_KEY_PEPPER is not set (wrangler secret, or .dev.vars locally)");
  return createEdge({
    assets: { vocabText, labels: labels as Label[], manifest: manifest as unknown as BundleManifest },
    db: env.DB,
    pepper: env.API_KEY_PEPPER,
    upstream: {
      url: env.UPSTREAM_URL,
      token: env.UPSTREAM_TOKEN,
      model: env.MODEL,
      timeoutMs: number(env.UPSTREAM_TIMEOUT_MS, 10_000),
      maxBatch: number(env.UPSTREAM_MAX_BATCH, 256),
    },
    rateLimit: {
      perSecond: number(env.RATE_LIMIT_PER_SECOND, 50),
      burst: number(env.RATE_LIMIT_BURST, 100),
    },
    development: env.ENVIRONMENT === "development",
    corsOrigins:
      env.CORS_ORIGINS === undefined || env.CORS_ORIGINS.trim() === "*"
        ? "*"
        : env.CORS_ORIGINS.split(",").map((s) => s.trim()),
    introspection: env.INTROSPECTION !== "off",
    evalStaleAfterMs: number(env.EVAL_STALE_AFTER_MS, 30_000),
    evalRunner: {
      async start(runId) {
        await env.EVAL_RUNNER.get(env.EVAL_RUNNER.idFromName(runId)).start(runId);
      },
    },
  });
}

export default {
  async fetch(request: Request, env: Env, ctx: unknown): Promise<Response> {
    if (!edge || edgeEnv !== env) {
      try {
        edge = edgeFromEnv(env);
        edgeEnv = env;
      } catch (error) {
        console.error(`edge misconfigured: ${(error as Error).message}`);
        return errorResponse(500, ErrorCode.UPSTREAM_UNAVAILABLE, "the edge is misconfigured");
      }
    }
    const { pathname } = new URL(request.url);
    if (pathname === "/dashboard" || pathname === "/dashboard/") {
      // Static: it fetches /graphql with the caller's key like any client.
      return new Response(dashboardHtml, {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "content-security-policy":
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:",
          "x-content-type-options": "nosniff",
        },
      });
    }
    return edge.yoga.fetch(request, { env, ctx });
  },
};

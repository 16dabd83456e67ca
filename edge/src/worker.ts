/**
 * The Cloudflare Worker: its fetch handler and Durable Object classes. The edge is built once per
 * isolate from the bindings (config.ts, the composition root) and serves every request through its
 * one gate, `edge.fetch` (app.ts).
 */

import dashboardHtml from "../dist/dashboard.html";
import { createEdge, type Edge } from "./app.ts";
import { ConfigError, edgeOptionsFromEnv } from "./config.ts";
import type { Env } from "./env.ts";
import { ErrorCode } from "./graphql/errors.ts";
import { errorResponse } from "./plugins/error-response.ts";

export { EvalRunnerObject } from "./eval/eval-runner-object.ts";
export { SubscriptionLeaseObject } from "./limits/subscription-lease-object.ts";
export { TextQuotaObject } from "./limits/text-quota-object.ts";

let edge: Edge | undefined;
let edgeEnv: Env | undefined;

export default {
  async fetch(request: Request, env: Env, ctx: unknown): Promise<Response> {
    if (!edge || edgeEnv !== env) {
      try {
        edge = createEdge({ ...edgeOptionsFromEnv(env), dashboardHtml });
        edgeEnv = env;
      } catch (error) {
        // Not retryable and not the upstream's fault: say so, and keep the detail in the log.
        console.error(`edge misconfigured: ${(error as Error).message}`);
        const message =
          error instanceof ConfigError ? "the edge is misconfigured" : "the edge failed to start";
        return errorResponse(500, ErrorCode.INTERNAL, message);
      }
    }
    return edge.fetch(request, { env, ctx });
  },
};

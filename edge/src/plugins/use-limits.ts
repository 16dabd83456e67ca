/**
 * What GraphQL Armor (use-query-armor.ts) and the text budget (limits/text-budget.ts) cannot see:
 * - body size (HTTP 413 BODY_TOO_LARGE, before parsing; chunked bodies are counted as they stream),
 * - bracket nesting of the query text (QUERY_TOO_DEEP), checked by a linear scan before parsing,
 *   because graphql-js parses recursively and thousands of `{` overflow the stack before any token
 *   limit is reached.
 */
import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import { ErrorCode } from "../graphql/errors.ts";
import { errorResponse } from "./error-response.ts";
export interface UseLimitsOptions {
  /** Request body bytes. Default 1 MiB (256 texts × 2000 ASCII chars fit with room to spare). */
  maxBodyBytes?: number;
  /** Brace/bracket/parenthesis nesting of the query text. Default 64. */
  maxNesting?: number;
}

export const LIMIT_DEFAULTS: Required<UseLimitsOptions> = {
  maxBodyBytes: 1024 * 1024,
  maxNesting: 64,
};

/** Deepest nesting of `{`, `[` and `(` outside strings and comments (a linear scan, no recursion). */
export function queryNesting(source: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "#") {
      while (i < source.length && source[i] !== "\n" && source[i] !== "\r") i++;
    } else if (c === '"') {
      if (source.startsWith('"""', i)) {
        i += 3;
        while (i < source.length && !source.startsWith('"""', i)) i += source.startsWith('\\"""', i) ? 4 : 1;
        i += 2;
      } else {
        i++;
        while (i < source.length && source[i] !== '"' && source[i] !== "\n") i += source[i] === "\\" ? 2 : 1;
      }
    } else if (c === "{" || c === "[" || c === "(") {
      depth++;
      if (depth > max) max = depth;
    } else if (c === "}" || c === "]" || c === ")") depth = Math.max(0, depth - 1);
  }
  return max;
}

export function useLimits(options: UseLimitsOptions = {}): Plugin {
  const limits = { ...LIMIT_DEFAULTS, ...options };
  return {
    async onRequest({ request, endResponse }) {
      const tooLarge = (): Response =>
        errorResponse(
          413,
          ErrorCode.BODY_TOO_LARGE,
          `request body exceeds the limit of ${limits.maxBodyBytes} bytes`,
          { connection: "close" },
        );
      const declared = request.headers.get("content-length");
      if (declared !== null) {
        if (Number(declared) > limits.maxBodyBytes) endResponse(tooLarge());
        return;
      }
      if (!request.body) return;
      // No Content-Length (chunked): count a copy of the stream, stopping at the limit.
      const reader = request.clone().body!.getReader();
      let size = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        size += value.byteLength;
        if (size > limits.maxBodyBytes) {
          await reader.cancel();
          endResponse(tooLarge());
          return;
        }
      }
    },
    onParse({ params }) {
      const source = typeof params.source === "string" ? params.source : params.source.body;
      const nesting = queryNesting(source);
      if (nesting > limits.maxNesting)
        throw new GraphQLError(`query nesting ${nesting} exceeds the limit of ${limits.maxNesting}`, {
          extensions: { code: ErrorCode.QUERY_TOO_DEEP },
        });
    },
  };
}

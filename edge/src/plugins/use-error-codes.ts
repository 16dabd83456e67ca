/**
 * Every error the API answers carries `extensions.code`, as the design promises ("every bad input
 * gets a clear error"): our own errors set theirs; graphql-js and yoga leave some without one
 * (variable coercion "Variable "$t" of required type …", syntax errors, validation errors, bad
 * HTTP bodies). This fills the missing codes with the standard names:
 * GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT, BAD_REQUEST.
 */
import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import { ErrorCode } from "../graphql/errors.ts";
import { errorResponse } from "./error-response.ts";

type ErrorLike = {
  message?: unknown;
  path?: unknown;
  locations?: unknown;
  extensions?: Record<string, unknown>;
};

/** The code for an error that has none (pure; exported for tests). */
export function missingCode(error: ErrorLike): string {
  const message = typeof error.message === "string" ? error.message : "";
  if (message.startsWith("Syntax Error")) return "GRAPHQL_PARSE_FAILED";
  if (message.startsWith('Variable "$')) return "BAD_USER_INPUT";
  if (error.path !== undefined) return "BAD_USER_INPUT";
  if (error.locations !== undefined) return "GRAPHQL_VALIDATION_FAILED";
  return "BAD_REQUEST";
}

function withCode(error: unknown): unknown {
  if (error === null || typeof error !== "object") return error;
  const e = error as ErrorLike;
  if (typeof e.extensions?.code === "string") return error;
  const code = missingCode(e);
  if (e.extensions && Object.isExtensible(e.extensions)) {
    e.extensions.code = code;
    return error;
  }
  if (error instanceof GraphQLError)
    return new GraphQLError(error.message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: error.originalError,
      extensions: { ...error.extensions, code },
    });
  return { ...e, extensions: { ...e.extensions, code } };
}

/** The errors of the first SSE event whose data is a GraphQL result with errors, or null. */
function sseErrors(text: string): unknown[] | null {
  for (const line of text.split("\n")) {
    if (!line.startsWith("data:")) continue;
    try {
      const result = JSON.parse(line.slice(5)) as { errors?: unknown };
      if (Array.isArray(result.errors) && result.errors.length > 0) return result.errors.map(withCode);
    } catch {
      // not JSON: look further
    }
  }
  return null;
}

const STATUS_MESSAGES: Record<number, string> = {
  401: "an API key is required: send Authorization: Bearer <key>",
  404: "not found: the API is at /graphql",
  405: "method not allowed: use GET or POST",
  406: "not acceptable: ask for application/json or application/graphql-response+json (a subscription: text/event-stream)",
  415: "unsupported content type: send application/json",
};

export function useErrorCodes(): Plugin {
  return {
    // yoga answers some HTTP refusals (404, 405, 406, 415, also on /graphql/) with an empty body:
    // give them the JSON error shape.
    async onResponse({ request, response, setResponse }) {
      if (response.status < 400 || request.method === "HEAD") return;
      const type = response.headers.get("content-type") ?? "";
      if (type.includes("json")) return;
      // The original headers (CORS, security) stay; the body and its type become the GraphQL error.
      const headers = new Headers(response.headers);
      headers.delete("content-type");
      headers.delete("content-length");
      // A subscription refused before its stream starts (a revoked key, a full gate) answers its
      // status with the errors as one SSE event: those errors, their messages and codes, as JSON.
      if (type.includes("text/event-stream")) {
        const errors = sseErrors(await response.clone().text());
        if (errors) {
          headers.set("content-type", "application/json; charset=utf-8");
          setResponse(new Response(JSON.stringify({ errors }), { status: response.status, headers }));
          return;
        }
      }
      const message = STATUS_MESSAGES[response.status] ?? `request refused (HTTP ${response.status})`;
      // A 401 comes from a refused key (a subscription refused before its stream starts, say).
      const code =
        response.status === 404
          ? ErrorCode.NOT_FOUND
          : response.status === 401
            ? ErrorCode.UNAUTHENTICATED
            : ErrorCode.BAD_REQUEST;
      setResponse(errorResponse(response.status, code, message, Object.fromEntries(headers)));
    },
    onResultProcess({ result, setResult }) {
      const fix = (r: unknown): unknown => {
        if (r === null || typeof r !== "object" || !("errors" in r)) return r;
        const errors = (r as { errors?: unknown }).errors;
        if (!Array.isArray(errors)) return r;
        return { ...(r as object), errors: errors.map(withCode) };
      };
      if (Array.isArray(result)) setResult(result.map(fix) as typeof result);
      else if (result && typeof result === "object" && "errors" in result)
        setResult(fix(result) as typeof result);
    },
  };
}

import { GraphQLError } from "graphql";
import { ErrorCode } from "../graphql/errors.ts";

/**
 * Errors the client sees when the model server fails. Messages never carry the upstream URL or its
 * body (they may be internal); the detail goes to the log instead.
 */
export function upstreamUnavailable(detail: string): GraphQLError {
  console.error(`upstream unavailable: ${detail}`);
  return new GraphQLError("the model server is unavailable; retry shortly", {
    extensions: { code: ErrorCode.UPSTREAM_UNAVAILABLE },
  });
}

/**
 * The model server refused an admin's request with a 4xx and its reason (a bundle that does not
 * load, say): retrying will not help, so the caller gets the reason, not "unavailable".
 */
export function upstreamRefused(status: number, body: string): GraphQLError {
  let reason = body.slice(0, 500);
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === "string") reason = parsed.error.slice(0, 500);
  } catch {
    // not JSON: the text as it is
  }
  return new GraphQLError(`the model server refused (HTTP ${status}): ${reason}`, {
    extensions: { code: ErrorCode.BAD_USER_INPUT },
  });
}

export function upstreamTimeout(timeoutMs: number): GraphQLError {
  return new GraphQLError(`the model server did not answer within ${timeoutMs} ms`, {
    extensions: { code: ErrorCode.UPSTREAM_TIMEOUT },
  });
}

export function unknownModel(model: string): GraphQLError {
  return new GraphQLError(`the model server does not serve a model named "${model}"`, {
    extensions: { code: ErrorCode.UNKNOWN_MODEL },
  });
}

export function modelMismatch(model: string, what: string): GraphQLError {
  console.error(`model mismatch for ${model}: ${what}`);
  return new GraphQLError(
    `the model server's "${model}" does not match this edge's tokenizer and labels (${what}); refusing to answer rather than answer wrongly`,
    { extensions: { code: ErrorCode.MODEL_MISMATCH } },
  );
}

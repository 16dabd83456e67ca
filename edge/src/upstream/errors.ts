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

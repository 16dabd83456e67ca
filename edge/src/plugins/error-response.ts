import { GraphQLError } from "graphql";
import { ErrorCode } from "../../../schema/src/graphql/errors.ts";

/**
 * A GraphQL-shaped error answered before execution (auth, rate limit, body size), so clients parse
 * every refusal the same way: `{"errors":[{"message","extensions":{"code"}}]}`.
 */
export function errorResponse(
  status: number,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** 429 RATE_LIMITED with Retry-After in whole seconds. */
export function rateLimited(retryAfterSeconds: number, what: string): Response {
  const retryAfter = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  return errorResponse(
    429,
    ErrorCode.RATE_LIMITED,
    `rate limit exceeded for ${what}; retry in ${retryAfter} s`,
    {
      "retry-after": retryAfter,
    },
  );
}

/** The same refusal raised during execution (texts per key): yoga turns `extensions.http` into the 429. */
export function rateLimitedError(retryAfterSeconds: number, what: string): GraphQLError {
  const retryAfter = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  return new GraphQLError(`rate limit exceeded for ${what}; retry in ${retryAfter} s`, {
    extensions: {
      code: ErrorCode.RATE_LIMITED,
      http: { status: 429, headers: { "retry-after": retryAfter } },
    },
  });
}

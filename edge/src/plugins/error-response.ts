import { GraphQLError } from "graphql";
import { ErrorCode } from "../graphql/errors.ts";

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

/** The RATE_LIMITED message and its Retry-After, in whole seconds (at least 1). */
function rateLimit(retryAfterSeconds: number, what: string): { message: string; retryAfter: string } {
  const retryAfter = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  return { message: `rate limit exceeded for ${what}; retry in ${retryAfter} s`, retryAfter };
}

/** 429 RATE_LIMITED with Retry-After, answered before execution (requests per key or IP). */
export function rateLimited(retryAfterSeconds: number, what: string): Response {
  const { message, retryAfter } = rateLimit(retryAfterSeconds, what);
  return errorResponse(429, ErrorCode.RATE_LIMITED, message, { "retry-after": retryAfter });
}

/** The same refusal raised during execution (texts per key): yoga turns `extensions.http` into the 429. */
export function rateLimitedError(retryAfterSeconds: number, what: string): GraphQLError {
  const { message, retryAfter } = rateLimit(retryAfterSeconds, what);
  return new GraphQLError(message, {
    extensions: {
      code: ErrorCode.RATE_LIMITED,
      http: { status: 429, headers: { "retry-after": retryAfter } },
    },
  });
}

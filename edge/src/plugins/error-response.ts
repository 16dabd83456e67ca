import type { ErrorCode } from "../../../schema/src/graphql/errors.ts";

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

/**
 * The `extensions.code` values the API answers with. Clients (the CLI, the dashboard) switch on these,
 * so they are part of the contract, like the schema itself.
 */
export const ErrorCode = {
  /** No API key, an unknown one, or a revoked one. HTTP 401. */
  UNAUTHENTICATED: "UNAUTHENTICATED",
  /** The key is valid but lacks the scope the field needs. */
  FORBIDDEN: "FORBIDDEN",
  TOO_MANY_TEXTS: "TOO_MANY_TEXTS",
  TEXT_TOO_LONG: "TEXT_TOO_LONG",
  BAD_USER_INPUT: "BAD_USER_INPUT",
  QUERY_TOO_DEEP: "QUERY_TOO_DEEP",
  QUERY_TOO_COSTLY: "QUERY_TOO_COSTLY",
  /** HTTP 413. */
  BODY_TOO_LARGE: "BODY_TOO_LARGE",
  /** HTTP 429, with Retry-After. */
  RATE_LIMITED: "RATE_LIMITED",
  /** The model server refused the connection, answered 5xx, or is not ready. */
  UPSTREAM_UNAVAILABLE: "UPSTREAM_UNAVAILABLE",
  /** The model server did not answer within the edge's deadline. */
  UPSTREAM_TIMEOUT: "UPSTREAM_TIMEOUT",
  /** The upstream model's vocabulary or label table differs from the edge's: answers would be wrong. */
  MODEL_MISMATCH: "MODEL_MISMATCH",
  /** The requested model is not served by the upstream. */
  UNKNOWN_MODEL: "UNKNOWN_MODEL",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

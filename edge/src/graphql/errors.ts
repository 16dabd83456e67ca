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
  /** The HTTP request itself is wrong (method, content type, body). */
  BAD_REQUEST: "BAD_REQUEST",
  QUERY_TOO_DEEP: "QUERY_TOO_DEEP",
  QUERY_TOO_COSTLY: "QUERY_TOO_COSTLY",
  /** More lexical tokens than the edge parses. */
  QUERY_TOO_LARGE: "QUERY_TOO_LARGE",
  TOO_MANY_ALIASES: "TOO_MANY_ALIASES",
  TOO_MANY_DIRECTIVES: "TOO_MANY_DIRECTIVES",
  /** HTTP 413. */
  BODY_TOO_LARGE: "BODY_TOO_LARGE",
  /** HTTP 429, with Retry-After. */
  RATE_LIMITED: "RATE_LIMITED",
  /** The edge itself is misconfigured (a missing secret or binding). HTTP 500; not retryable. */
  INTERNAL: "INTERNAL",
  /** The API key store (D1) could not be read. HTTP 503 with Retry-After; retryable. */
  KEY_STORE_UNAVAILABLE: "KEY_STORE_UNAVAILABLE",
  /** No such route: the API is at /graphql. HTTP 404. */
  NOT_FOUND: "NOT_FOUND",
  /** More distinct `model:` names in one operation than the edge allows. */
  TOO_MANY_MODELS: "TOO_MANY_MODELS",
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

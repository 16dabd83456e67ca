/**
 * API key authentication: `Authorization: Bearer iql_…` only (a key in the query string or body is
 * ignored, since URLs end up in logs). Unknown, malformed and revoked keys get 401
 * UNAUTHENTICATED before parsing; scopes are checked per field (schema/src/graphql/auth.ts).
 * The context reads the authenticated key through `requestAuth(request)`.
 */
import type { Plugin } from "graphql-yoga";
import type { AuthInfo } from "../../../schema/src/graphql/builder.ts";
import { ErrorCode } from "../../../schema/src/graphql/errors.ts";
import { type Authenticated, authenticateKey } from "../auth/api-keys.ts";
import type { D1Database } from "../d1.ts";
import { errorResponse } from "./error-response.ts";

export interface UseApiKeysOptions {
  /** D1 database holding the `api_keys` table (edge/migrations/0001_api_keys.sql). */
  db: D1Database;
  /** HMAC key the stored hashes were made with (secret API_KEY_PEPPER). */
  pepper: string;
  /** Only requests to this path need a key. Default "/graphql". */
  endpoint?: string;
}

const authByRequest = new WeakMap<Request, AuthInfo>();

/** The key that authenticated this request, for later plugins (rate limit) and the context. */
export function requestAuth(request: Request): AuthInfo | undefined {
  return authByRequest.get(request);
}

const MESSAGES = {
  missing: "an API key is required: send Authorization: Bearer <key>",
  malformed: "the API key is malformed",
  unknown: "the API key is not valid",
  revoked: "the API key has been revoked",
} as const;

export function useApiKeys(options: UseApiKeysOptions): Plugin {
  const endpoint = options.endpoint ?? "/graphql";
  return {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname !== endpoint || request.method === "OPTIONS") return;
      const header = request.headers.get("authorization");
      const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      let result: Authenticated | keyof typeof MESSAGES;
      try {
        result = await authenticateKey(options.db, options.pepper, match ? match[1]! : null);
      } catch (error) {
        console.error(`api key lookup failed: ${(error as Error)?.message}`);
        endResponse(errorResponse(503, ErrorCode.UPSTREAM_UNAVAILABLE, "the key store is unavailable"));
        return;
      }
      if (typeof result === "string") {
        endResponse(
          errorResponse(401, ErrorCode.UNAUTHENTICATED, MESSAGES[result], {
            "www-authenticate": 'Bearer realm="intentql"',
          }),
        );
        return;
      }
      authByRequest.set(request, result);
    },
  };
}

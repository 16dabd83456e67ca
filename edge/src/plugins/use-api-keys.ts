/**
 * API key authentication for every request that reaches yoga (the Worker routes only /graphql
 * here): `Authorization: Bearer iql_…` only (a key in the query string or body is ignored, since
 * URLs end up in logs). Missing, malformed, unknown and revoked keys get 401 UNAUTHENTICATED before
 * parsing; scopes are then checked per field by scope-auth (edge/src/graphql/builder.ts).
 *
 * Key-less callers get through only with `allowAnonymous` (development), and then only to what the
 * `catalog` scope opens. Every key-less request, and every key lookup that has to read D1 (a cache
 * miss: new, unknown or guessed keys), is charged to the caller's IP, so guessing keys or flooding
 * without one is rate-limited like any other traffic. The context reads the authenticated key
 * through `requestAuth(request)`.
 */
import type { Plugin } from "graphql-yoga";
import { type KeyStore, KeyStoreUnavailableError } from "../auth/api-keys.ts";
import type { AuthInfo } from "../graphql/builder.ts";
import { ErrorCode } from "../graphql/errors.ts";
import type { RateLimiter } from "../limits/rate-limiter.ts";
import { errorResponse, rateLimited } from "./error-response.ts";

export interface UseApiKeysOptions {
  /** Verified-key cache in front of D1 (auth/api-keys.ts). */
  keys: KeyStore;
  /** Let key-less requests through with the `catalog` scope only. Default false (production). */
  allowAnonymous?: boolean;
  /** Per client IP: key-less requests and key lookups that read D1. Default: none. */
  ipLimiter?: RateLimiter;
}

const authByRequest = new WeakMap<Request, AuthInfo>();

/** The key that authenticated this request, for later plugins (rate limit) and the context. */
export function requestAuth(request: Request): AuthInfo | undefined {
  return authByRequest.get(request);
}

/** The bearer token of `Authorization: Bearer <token>`, or null. */
function bearerToken(request: Request): string | null {
  const header = request.headers.get("authorization");
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match ? match[1]! : null;
}

/**
 * Whether the key that authenticated `request` still is valid, through the verified-key cache (a
 * revoked key at once in the isolate that revoked it, in the others within the cache's TTL). For a
 * request that lives on, a subscription: it asks before each poll. True without a key (there is
 * none to revoke), and while the key store cannot be read: the key was valid when the request began.
 */
export async function keyStillValid(keys: KeyStore, request: Request): Promise<boolean> {
  const token = bearerToken(request);
  if (token === null) return true;
  try {
    return typeof (await keys.verify(token)) === "object";
  } catch (error) {
    if (error instanceof KeyStoreUnavailableError) return true;
    throw error;
  }
}

/** Cloudflare sets CF-Connecting-IP at its edge (a client cannot forge it there); elsewhere: "local". */
export function clientIp(request: Request): string {
  return request.headers.get("cf-connecting-ip") ?? "local";
}

const MESSAGES = {
  missing: "an API key is required: send Authorization: Bearer <key>",
  malformed: "the API key is malformed",
  unknown: "the API key is not valid",
  revoked: "the API key has been revoked",
} as const;

export function useApiKeys(options: UseApiKeysOptions): Plugin {
  const chargeIp = async (request: Request): Promise<Response | null> => {
    if (!options.ipLimiter) return null;
    const decision = await options.ipLimiter.limit(`ip:${clientIp(request)}`);
    return decision.ok ? null : rateLimited(decision.retryAfterSeconds, "requests without a valid API key");
  };
  return {
    async onRequest({ request, endResponse }) {
      if (request.method === "OPTIONS") return; // CORS preflight: yoga answers it, no data
      const token = bearerToken(request);
      if (token === null && options.allowAnonymous) {
        const refused = await chargeIp(request);
        if (refused) endResponse(refused);
        return;
      }
      let throttled: Response | null = null;
      let verdict: Awaited<ReturnType<KeyStore["verify"]>>;
      try {
        verdict = await options.keys.verify(token, async () => {
          throttled = await chargeIp(request);
          return throttled === null;
        });
      } catch (error) {
        if (!(error instanceof KeyStoreUnavailableError)) throw error;
        console.error(`api key lookup failed: ${error.message}`);
        endResponse(
          errorResponse(
            503,
            ErrorCode.KEY_STORE_UNAVAILABLE,
            "the API key store is unavailable; retry shortly",
            {
              "retry-after": "1",
            },
          ),
        );
        return;
      }
      if (throttled) {
        endResponse(throttled);
        return;
      }
      if (typeof verdict === "string") {
        const refused = verdict === "missing" || verdict === "malformed" ? await chargeIp(request) : null;
        endResponse(
          refused ??
            errorResponse(401, ErrorCode.UNAUTHENTICATED, MESSAGES[verdict], {
              "www-authenticate": 'Bearer realm="intentql"',
            }),
        );
        return;
      }
      authByRequest.set(request, verdict);
    },
  };
}

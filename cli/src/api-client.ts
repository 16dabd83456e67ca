/** The CLI's GraphQL client: the running API at --endpoint, with the key from INTENTQL_API_KEY. */
import type { FlagSpec } from "./args.ts";
import { DEFAULT_EDGE_PORT } from "./start-options.ts";

export const DEFAULT_ENDPOINT = `http://127.0.0.1:${process.env.EDGE_PORT || DEFAULT_EDGE_PORT}/graphql`;

/** `--endpoint URL`, taken by every command that talks to the API. */
export const ENDPOINT_FLAG = {
  name: "endpoint",
  value: "URL",
  description: "the GraphQL API; `npm start` serves it locally (EDGE_PORT sets the port)",
  default: DEFAULT_ENDPOINT,
} as const satisfies FlagSpec;

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(code ? `${message} (${code})` : message);
    this.name = "ApiError";
  }
}

export interface ApiClient {
  endpoint: string;
  request<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

export function apiClient(endpoint: string | undefined, key = process.env.INTENTQL_API_KEY): ApiClient {
  const url = endpoint ?? DEFAULT_ENDPOINT;
  return {
    endpoint: url,
    async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
      let res: Response;
      try {
        res = await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/graphql-response+json, application/json",
            ...(key ? { authorization: `Bearer ${key}` } : {}),
          },
          body: JSON.stringify({ query, variables }),
          signal: AbortSignal.timeout(120_000),
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
        throw new ApiError(`cannot reach ${url} (${cause}); is the stack running (npm start)?`);
      }
      const text = await res.text();
      let body: { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
      try {
        body = JSON.parse(text);
      } catch {
        throw new ApiError(`${url} answered HTTP ${res.status} with no GraphQL body: ${text.slice(0, 200)}`);
      }
      const first = body.errors?.[0];
      if (first) {
        const hint = first.extensions?.code === "UNAUTHENTICATED" && !key ? "; set INTENTQL_API_KEY" : "";
        throw new ApiError(`${first.message}${hint}`, first.extensions?.code);
      }
      if (!body.data) throw new ApiError(`${url} answered HTTP ${res.status} with no data`);
      return body.data;
    },
  };
}

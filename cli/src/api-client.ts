/** The CLI's GraphQL client: the running API at --endpoint, with the key from INTENTQL_API_KEY. */
import { readBodyCapped } from "@intentql/schema";
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

/** The most of one answer the client reads: the CLI's largest answers (a page of 500 misclassified texts) take a few MB. */
export const MAX_RESPONSE_BYTES = 32 * 2 ** 20;

/**
 * `text` safe to print to a terminal: control characters (C0 but tab and newline, DEL, C1) and
 * bidirectional controls (U+200E-U+200F, U+202A-U+202E, U+2066-U+2069) become U+FFFD. Everything
 * the API answers is text a server chose: ESC sequences in an intent name or an error message would
 * otherwise write the clipboard (OSC 52), retitle or clear the terminal, and a U+202E would show a
 * key id or name reversed in a table.
 */
export function terminalSafe(text: string): string {
  return text.replace(TERMINAL_UNSAFE, "\ufffd");
}
const TERMINAL_UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `value` with terminalSafe applied to every string in it (keys included), for an answer's data. */
function safeStrings<T>(value: T): T {
  if (typeof value === "string") return terminalSafe(value) as T;
  if (Array.isArray(value)) return value.map(safeStrings) as T;
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [terminalSafe(k), safeStrings(v)])) as T;
  return value;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(terminalSafe(code ? `${message} (${code})` : message));
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
          // A redirect is reported, never followed: a 307 would send the query and its variables
          // (a dataset's rows, for `dataset import`) to wherever the answer points, and the CLI
          // would print that host's answer as the API's.
          redirect: "manual",
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
        throw new ApiError(`cannot reach ${url} (${cause}); is the stack running (npm start)?`);
      }
      if (res.status >= 300 && res.status < 400) {
        await res.body?.cancel();
        const to = res.headers.get("location");
        throw new ApiError(
          `${url} answered HTTP ${res.status}, a redirect${to ? ` to ${to.slice(0, 200)}` : ""}; the CLI does not follow redirects: give the final address with --endpoint`,
        );
      }
      let read: Awaited<ReturnType<typeof readBodyCapped>>;
      try {
        read = await readBodyCapped(res, MAX_RESPONSE_BYTES);
      } catch (error) {
        throw new ApiError(`${url}: the answer broke off (${(error as Error).message})`);
      }
      if ("tooLarge" in read)
        throw new ApiError(`${url} answered more than ${MAX_RESPONSE_BYTES} bytes; refused`);
      const text = read.text;
      let body: { data?: T; errors?: { message: string; extensions?: { code?: string } }[] } | undefined;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      // not JSON, or JSON that is no GraphQL result (null, or `errors` that is not a list)
      if (!body || typeof body !== "object" || (body.errors !== undefined && !Array.isArray(body.errors)))
        throw new ApiError(`${url} answered HTTP ${res.status} with no GraphQL body: ${text.slice(0, 200)}`);
      const first = body.errors?.[0];
      if (first) {
        const hint = first.extensions?.code === "UNAUTHENTICATED" && !key ? "; set INTENTQL_API_KEY" : "";
        throw new ApiError(`${first.message}${hint}`, first.extensions?.code);
      }
      if (!body.data) throw new ApiError(`${url} answered HTTP ${res.status} with no data`);
      try {
        return safeStrings(body.data);
      } catch (error) {
        // safeStrings recurses: an answer nested millions deep overflows the stack
        if (error instanceof RangeError) throw new ApiError(`${url} answered data nested too deeply to read`);
        throw error;
      }
    },
  };
}

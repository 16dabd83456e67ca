/** autocannon runs with per-code tallies and latencies (GraphQL error codes, not only HTTP status). */
import autocannon from "autocannon";

// bench/edge-autocannon.d.ts declares the slice the bench uses; this suite needs a little more.
interface CannonResult {
  latency: { p50: number; p99: number; max: number };
  requests: { average: number; total: number };
  errors: number;
  timeouts: number;
  statusCodeStats?: Record<string, { count: number }>;
}
interface CannonClient {
  on(event: "response", listener: (status: number, bytes: number, duration: number) => void): void;
}
const cannon = autocannon as unknown as (options: {
  url: string;
  connections: number;
  duration: number;
  timeout: number;
  requests: {
    method: string;
    headers: Record<string, string>;
    body: string;
    onResponse: (status: number, body: string) => void;
  }[];
  setupClient: (client: CannonClient) => void;
}) => Promise<CannonResult>;

export interface LoadFigures {
  connections: number;
  seconds: number;
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Socket errors and timeouts as autocannon counts them. */
  errors: number;
  timeouts: number;
  byStatus: Record<string, number>;
  /** By GraphQL extensions.code; "OK" for an answer with data and no error. */
  byCode: Record<string, number>;
  /** Slowest answer per code, ms. */
  maxMsByCode: Record<string, number>;
  /** Median and 99th percentile per code, ms. */
  p50MsByCode: Record<string, number>;
  p99MsByCode: Record<string, number>;
}

function pct(sorted: readonly number[], p: number): number {
  return sorted.length === 0
    ? 0
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function codeOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { errors?: { extensions?: { code?: string } }[]; data?: unknown };
    if (parsed.errors) return parsed.errors[0]?.extensions?.code ?? "NO_CODE";
    return parsed.data ? "OK" : "NO_DATA";
  } catch {
    return "NOT_JSON";
  }
}

export async function loadRun(opts: {
  url: string;
  key: string;
  body: string;
  connections: number;
  seconds: number;
  /** Client-side timeout per request, s (autocannon counts a timeout when passed). */
  timeoutS?: number;
}): Promise<LoadFigures> {
  const byCode: Record<string, number> = {};
  const maxMsByCode: Record<string, number> = {};
  const durations: Record<string, number[]> = {};
  // onResponse runs synchronously right before the client's "response" event, which has the duration.
  let lastCode = "NONE";
  const result = await cannon({
    url: `${opts.url}/graphql`,
    connections: opts.connections,
    duration: opts.seconds,
    timeout: opts.timeoutS ?? 20,
    requests: [
      {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${opts.key}` },
        body: opts.body,
        onResponse: (_status: number, body: string) => {
          lastCode = codeOf(body);
          byCode[lastCode] = (byCode[lastCode] ?? 0) + 1;
        },
      },
    ],
    setupClient: (client) => {
      client.on("response", (_status: number, _bytes: number, duration: number) => {
        maxMsByCode[lastCode] = Math.max(maxMsByCode[lastCode] ?? 0, Math.round(duration));
        const list = durations[lastCode] ?? [];
        list.push(Math.round(duration));
        durations[lastCode] = list;
      });
    },
  });
  const byStatus: Record<string, number> = {};
  for (const [status, { count }] of Object.entries(result.statusCodeStats ?? {})) byStatus[status] = count;
  return {
    connections: opts.connections,
    seconds: opts.seconds,
    requests: result.requests.total,
    rps: Math.round(result.requests.average * 10) / 10,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    errors: result.errors,
    timeouts: result.timeouts,
    byStatus,
    byCode,
    maxMsByCode,
    p50MsByCode: Object.fromEntries(
      Object.entries(durations).map(([c, d]) => [
        c,
        pct(
          d.sort((a, b) => a - b),
          50,
        ),
      ]),
    ),
    p99MsByCode: Object.fromEntries(
      Object.entries(durations).map(([c, d]) => [
        c,
        pct(
          d.sort((a, b) => a - b),
          99,
        ),
      ]),
    ),
  };
}

/** The dashboard talks to the API like any client: POST /graphql with the caller's API key. */

export class GraphQLRequestError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export function apiKey(): string | null {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromHash) {
    // Keep the key out of the address bar (and out of screenshots and history) once read.
    localStorage.setItem("intentql.apiKey", fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return localStorage.getItem("intentql.apiKey");
}

export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const key = apiKey();
  const res = await fetch("/graphql", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json, application/json",
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as {
    data?: T;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
  if (body.errors?.length) {
    const first = body.errors[0]!;
    throw new GraphQLRequestError(first.message, first.extensions?.code);
  }
  if (!body.data) throw new GraphQLRequestError(`HTTP ${res.status}`, undefined);
  return body.data;
}

export const RUN_FIELDS = `id status split model total done progress textsPerSecond etaSeconds createdAt finishedAt error
  dataset { id name }
  metrics { accuracy f1Macro }`;

export const RUN_DETAIL = `id status split model total done createdAt finishedAt dataset { name }
  metrics {
    n accuracy f1Macro f1Weighted ece outOfScopeRate latencyP50Ms latencyP95Ms latencyP99Ms textsPerSecond
    perIntent { intent { name scenario } precision recall f1 support }
    perScenario { scenario accuracy support }
    confusion { labels counts }
  }`;

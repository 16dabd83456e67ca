/** The dashboard talks to the API like any client: POST /graphql with the caller's API key. */

export class GraphQLRequestError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** No key yet: the dashboard asks for one instead of calling the API. */
export const NO_KEY = "NO_KEY";
/** The key changed (or was forgotten) while the request ran: its answer belongs to no one now. */
export const STALE = "STALE";

const STORAGE_KEY = "intentql.apiKey";
/** Where sessionStorage is unavailable (storage disabled): the key lives as long as the page. */
let memoryKey: string | null = null;

/**
 * The key is kept in sessionStorage: this tab only, gone when it closes. Never localStorage (it
 * would outlive the session on a shared machine) and never the query string (URLs end up in logs).
 */
export function apiKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? memoryKey;
  } catch {
    return memoryKey;
  }
}

export function setApiKey(key: string | null): void {
  memoryKey = key;
  try {
    if (key === null) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    // storage disabled: memoryKey holds it
  }
}

/** A key as the page may show it: its public id (`iql_<12 hex>_`), never its secret. */
function keyId(key: string): string {
  return `${key.slice(0, 17)}…`;
}

/**
 * Takes a key passed as `#key=…` (a fragment never reaches the server) into storage, then removes
 * it from the address bar so it does not linger there, in history or in screenshots. Also drops a
 * key that earlier versions of the dashboard left in localStorage. A link must not swap the key in
 * use behind the user's back (it would show someone else's runs as theirs), so replacing a stored
 * key needs a yes to a confirm dialog. Returns whether the key in use changed.
 */
export function takeKeyFromFragment(): boolean {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage disabled: nothing was kept there
  }
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.has("key")) return false;
  const key = params.get("key")?.trim();
  params.delete("key");
  const rest = params.toString();
  history.replaceState(history.state, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
  const current = apiKey();
  if (!key || key === current) return false;
  if (
    current !== null &&
    !window.confirm(
      `Switch this dashboard to the key in the link (${keyId(key)})? It replaces the key in use (${keyId(current)}).`,
    )
  )
    return false;
  setApiKey(key);
  return true;
}

/**
 * The shape of an IntentQL API key (the edge's KEY_PATTERN; this bundle imports only its own
 * modules). Anything else never reaches fetch: a character outside Latin-1 in the Authorization
 * header made fetch itself throw, and a tab given such a key by a link showed only that error, with
 * no way to enter another key (session 14's second attack pass).
 */
const KEY_SHAPE = /^iql_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/;

export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const key = apiKey();
  if (!key) throw new GraphQLRequestError("no API key", NO_KEY);
  if (!KEY_SHAPE.test(key))
    throw new GraphQLRequestError("that is not an IntentQL API key (iql_…)", "UNAUTHENTICATED");
  const res = await fetch("/graphql", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json, application/json",
      authorization: `Bearer ${key}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json().catch(() => ({}))) as {
    data?: T;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
  if (apiKey() !== key) throw new GraphQLRequestError("the API key changed", STALE);
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

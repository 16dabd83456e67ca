/**
 * The dashboard's queries and the shapes of their answers: the same operations (Models, Runs, Run,
 * Errors, Compare) any client could send, through gql (graphql.ts) with the key in use.
 */
import { gql, RUN_DETAIL, RUN_FIELDS } from "./graphql.ts";

export interface RunSummary {
  id: string;
  status: string;
  split: string;
  model: string;
  total: number;
  done: number;
  progress: number;
  textsPerSecond: number | null;
  etaSeconds: number | null;
  createdAt: string;
  finishedAt: string | null;
  error: string | null;
  dataset: { id: string; name: string };
  metrics: { accuracy: number; f1Macro: number } | null;
}

export interface IntentRow {
  intent: { name: string; scenario: string };
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface RunMetrics {
  n: number;
  accuracy: number;
  f1Macro: number;
  f1Weighted: number;
  ece: number;
  outOfScopeRate: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  latencyP99Ms: number;
  textsPerSecond: number;
  perIntent: IntentRow[];
  perScenario: { scenario: string; accuracy: number; support: number }[];
  confusion: { labels: string[]; counts: number[][] };
}

export interface RunDetail {
  id: string;
  status: string;
  split: string;
  model: string;
  total: number;
  done: number;
  dataset: { name: string };
  metrics: RunMetrics | null;
}

export interface SplitScore {
  n: number;
  accuracy: number;
  f1Macro: number;
  note: string | null;
}

export interface ServedModel {
  name: string;
  version: string;
  variant: string | null;
  test: SplitScore | null;
  validation: SplitScore | null;
}

export interface Misclassified {
  index: number;
  text: string;
  score: number;
  gold: { name: string };
  predicted: { name: string };
}

export interface MisclassifiedPage {
  edges: { node: Misclassified }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export interface Comparison {
  accuracyDelta: number;
  f1MacroDelta: number;
  intents: { intent: { name: string }; f1A: number; f1B: number; delta: number; support: number }[];
}

/** The served model's own scores, each with the bundle's note on what data it was measured on. */
export async function fetchModels(): Promise<ServedModel[]> {
  const data = await gql<{ models: ServedModel[] }>(
    "query Models { models { name version variant test { n accuracy f1Macro note } validation { n accuracy f1Macro note } } }",
  );
  return data.models;
}

export async function fetchRuns(): Promise<RunSummary[]> {
  const data = await gql<{ evalRuns: RunSummary[] }>(`query Runs { evalRuns(first: 100) { ${RUN_FIELDS} } }`);
  return data.evalRuns;
}

export async function fetchRun(id: string): Promise<RunDetail | null> {
  const data = await gql<{ evalRun: RunDetail | null }>(
    `query Run($id: ID!) { evalRun(id: $id) { ${RUN_DETAIL} } }`,
    {
      id,
    },
  );
  return data.evalRun;
}

/** 25 misclassified texts of a run after `after`, of one gold intent or all. */
export async function fetchMisclassified(
  id: string,
  after: string | null,
  intent: string | null,
): Promise<MisclassifiedPage> {
  const data = await gql<{ evalRun: { misclassified: MisclassifiedPage } }>(
    `query Errors($id: ID!, $after: String, $intent: String) { evalRun(id: $id) {
      misclassified(first: 25, after: $after, intent: $intent) {
        edges { node { index text score gold { name } predicted { name } } }
        pageInfo { hasNextPage endCursor } } } }`,
    { id, after, intent },
  );
  return data.evalRun.misclassified;
}

export async function fetchComparison(a: string, b: string): Promise<Comparison> {
  const data = await gql<{ compareEvalRuns: Comparison }>(
    `query Compare($a: ID!, $b: ID!) { compareEvalRuns(a: $a, b: $b) { accuracyDelta f1MacroDelta
      intents { intent { name } f1A f1B delta support } } }`,
    { a, b },
  );
  return data.compareEvalRuns;
}

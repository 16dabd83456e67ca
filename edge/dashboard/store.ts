/** What the dashboard knows: the runs of the key in use and what is selected among them. */
import type { RunDetail, RunSummary } from "./api.ts";

export interface DashboardState {
  runs: RunSummary[];
  /** The run shown in detail. */
  selected: string | null;
  detail: RunDetail | null;
  /** The gold intent the misclassified texts are filtered by. */
  intent: string | null;
  /** Where the next page of misclassified texts starts. */
  cursor: string | null;
  /** Series (dataset/split) hidden from the trend charts by a click on the legend. */
  hiddenSeries: Set<string>;
  /** The model whose runs the list and the trends show; null: every model's. */
  model: string | null;
}

export const state: DashboardState = {
  runs: [],
  selected: null,
  detail: null,
  intent: null,
  cursor: null,
  hiddenSeries: new Set(),
  model: null,
};

/** The runs of the model picked (every run when none is). */
export const visibleRuns = (): RunSummary[] =>
  state.model === null ? state.runs : state.runs.filter((r) => r.model === state.model);

/** Forget the runs shown for the previous key (the hidden series are a preference: they stay). */
export function clearRuns(): void {
  state.runs = [];
  state.selected = null;
  state.detail = null;
  state.intent = null;
  state.cursor = null;
}

/** Whether a run is still in progress, so that polling should go on. */
export const hasActiveRuns = (): boolean =>
  state.runs.some((r) => r.status === "running" || r.status === "queued");

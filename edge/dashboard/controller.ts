/**
 * What the dashboard does: load, select, filter, compare. Each action asks the API (api.ts), keeps
 * the answer in the store and hands it to the views; errors end in showError, which turns a missing,
 * refused or under-scoped key into the key form.
 */
import { fetchComparison, fetchMisclassified, fetchModels, fetchRun, fetchRuns } from "./api.ts";
import { messageOf } from "./format.ts";
import { GraphQLRequestError, NO_KEY, STALE, setApiKey } from "./graphql.ts";
import { clearRuns, state, visibleRuns } from "./store.ts";
import { renderCompareOptions, renderComparison } from "./views/compare.ts";
import { renderConfusion } from "./views/confusion.ts";
import { renderIntentDetail } from "./views/intent-detail.ts";
import { clearIntentF1, renderIntentF1 } from "./views/intent-f1.ts";
import { hideKeyMessage, showKeyAccepted, showKeyForm } from "./views/key.ts";
import {
  appendMisclassified,
  clearMisclassified,
  renderIntentFilter,
  showIntentFilter,
} from "./views/misclassified.ts";
import { renderModels, renderModelsUnavailable } from "./views/models.ts";
import { renderRunDetail } from "./views/run-detail.ts";
import { renderModelFilter, renderRuns } from "./views/runs.ts";
import { renderScenarios } from "./views/scenarios.ts";
import { hideErrorBanner, showContent, showErrorBanner } from "./views/shell.ts";
import { clearTrend, renderTrend } from "./views/trend.ts";

/** The scope every query of the dashboard needs. */
const SCOPE = "eval";

/** Runs an action from an event handler: its failure is shown, not thrown. */
export const act = (action: Promise<unknown>): void => void action.catch(showError);

/**
 * Without a usable key the dashboard shows the key form instead of data: `message` says why the
 * last key did not do (nothing when there simply is none yet).
 */
export function askForKey(message: string | null): void {
  reset();
  hideErrorBanner();
  showKeyForm(message);
}

/** A new key: start over with it. */
export function reload(): void {
  reset();
  hideKeyMessage();
  hideErrorBanner();
  act(loadRuns());
}

/** Forget everything shown for the previous key. */
function reset(): void {
  clearRuns();
  clearIntentF1();
  clearTrend();
  showContent(false);
}

export function showError(error: unknown): void {
  if (error instanceof GraphQLRequestError) {
    switch (error.code) {
      case STALE:
        return; // answered for a key that is no longer the one in use
      case NO_KEY:
        askForKey(null);
        return;
      case "UNAUTHENTICATED":
        setApiKey(null);
        askForKey(`This key was refused: ${error.message}. Enter another API key.`);
        return;
      case "FORBIDDEN":
        setApiKey(null);
        askForKey(
          `This key is valid but lacks the ${SCOPE} scope, which the dashboard needs. Enter a key with the ${SCOPE} scope.`,
        );
        return;
    }
  }
  showErrorBanner(messageOf(error));
}

async function loadModels(): Promise<void> {
  try {
    renderModels(await fetchModels());
  } catch (error) {
    // The model server may be down while D1 still answers: the runs are shown anyway.
    renderModelsUnavailable(messageOf(error));
  }
}

export async function loadRuns(): Promise<void> {
  void loadModels();
  state.runs = await fetchRuns();
  showKeyAccepted();
  showContent(true);
  renderRunViews();
  // Comparisons span models: that is how two models are compared on one dataset.
  renderCompareOptions(state.runs);
  if (!state.selected && state.runs.length > 0) {
    const firstDone = state.runs.find((r) => r.status === "succeeded") ?? state.runs[0]!;
    await selectRun(firstDone.id);
  }
}

/** The picker, the run list and the trends: what the model picked changes. */
function renderRunViews(): void {
  renderModelFilter(state.runs, state.model, (model) => {
    state.model = model;
    renderRunViews();
  });
  renderRunList();
  renderTrend(visibleRuns(), state.hiddenSeries, (series, visible) => {
    if (visible) state.hiddenSeries.delete(series);
    else state.hiddenSeries.add(series);
  });
}

function renderRunList(): void {
  renderRuns(visibleRuns(), state.selected, (id) => act(selectRun(id)));
}

export async function selectRun(id: string): Promise<void> {
  state.selected = id;
  state.intent = null;
  renderRunList();
  state.detail = await fetchRun(id);
  renderDetail();
  await loadMisclassified(true);
}

function renderDetail(): void {
  const d = state.detail;
  renderRunDetail(d);
  clearIntentF1();
  const m = d?.metrics;
  if (!m) return;
  const pick = (name: string | null) => act(selectIntent(name));
  renderIntentF1(m.perIntent, pick);
  renderScenarios(m.perScenario);
  renderConfusion(m, pick);
  renderIntentFilter(m.perIntent.map((r) => r.intent.name));
  renderIntentDetail(intentRow());
}

const intentRow = () => state.detail?.metrics?.perIntent.find((r) => r.intent.name === state.intent);

export async function selectIntent(name: string | null): Promise<void> {
  state.intent = name;
  showIntentFilter(name);
  renderIntentDetail(intentRow());
  await loadMisclassified(true);
}

/** The first page (`reset`) or the next one. */
export async function loadMisclassified(reset: boolean): Promise<void> {
  if (!state.detail) return;
  if (reset) {
    state.cursor = null;
    clearMisclassified();
  }
  const page = await fetchMisclassified(state.detail.id, state.cursor, state.intent);
  appendMisclassified(
    page.edges.map((e) => e.node),
    page.pageInfo.hasNextPage,
  );
  state.cursor = page.pageInfo.endCursor;
}

export async function compare(a: string, b: string): Promise<void> {
  renderComparison(await fetchComparison(a, b));
}

/**
 * Live updates: every 2 s, while a run is queued or running, the run list is fetched again, and the
 * selected run's detail once it has succeeded.
 */
import { loadRuns, selectRun, showError } from "./controller.ts";
import { apiKey } from "./graphql.ts";
import { hasActiveRuns, state } from "./store.ts";

const INTERVAL_MS = 2000;

export function startPolling(): void {
  setTimeout(() => void poll(), INTERVAL_MS);
}

async function poll(): Promise<void> {
  try {
    if (!apiKey()) return;
    if (hasActiveRuns()) {
      await loadRuns();
      const sel = state.runs.find((r) => r.id === state.selected);
      if (sel && sel.status === "succeeded" && state.detail?.status !== "succeeded") await selectRun(sel.id);
    }
  } catch (error) {
    showError(error);
  } finally {
    startPolling();
  }
}

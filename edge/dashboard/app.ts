/**
 * The dashboard's entry: takes a key passed in the URL fragment, wires the page's controls to the
 * actions (controller.ts), loads the runs and starts polling. State lives in store.ts, each panel's
 * DOM in views/, the API calls in api.ts and graphql.ts.
 */
import {
  act,
  askForKey,
  compare,
  loadMisclassified,
  loadRuns,
  reload,
  selectIntent,
  showError,
} from "./controller.ts";
import { setApiKey, takeKeyFromFragment } from "./graphql.ts";
import { startPolling } from "./poll.ts";
import { bindCompare } from "./views/compare.ts";
import { bindKeyForm } from "./views/key.ts";
import { bindMisclassified } from "./views/misclassified.ts";
import { markReady } from "./views/shell.ts";

function start(): void {
  takeKeyFromFragment();
  bindKeyForm({
    onKey(key) {
      setApiKey(key);
      reload();
    },
    onForget() {
      setApiKey(null);
      askForKey(null);
    },
  });
  // A `#key=` pasted into the address bar of an open dashboard changes only the fragment.
  window.addEventListener("hashchange", () => {
    if (!new URLSearchParams(location.hash.slice(1)).has("key")) return;
    if (takeKeyFromFragment()) reload();
  });
  bindMisclassified({
    onIntent: (name) => act(selectIntent(name)),
    onMore: () => act(loadMisclassified(false)),
  });
  bindCompare((a, b) => act(compare(a, b)));
  void loadRuns()
    .catch(showError)
    .finally(() => {
      markReady();
      startPolling();
    });
}

start();

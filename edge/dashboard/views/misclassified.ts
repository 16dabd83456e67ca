/** "Misclassified": the run's wrong predictions, 25 at a time, filtered by a gold intent or not. */
import type { Misclassified } from "../api.ts";
import { $, h } from "../dom.ts";

export function bindMisclassified(handlers: { onIntent(name: string | null): void; onMore(): void }): void {
  const select = $<HTMLSelectElement>("#intent-filter");
  select.addEventListener("change", () => handlers.onIntent(select.value || null));
  $<HTMLButtonElement>("#more").addEventListener("click", () => handlers.onMore());
}

/** The filter's choices: all intents, then each of the run's. */
export function renderIntentFilter(intents: readonly string[]): void {
  $("#intent-filter").replaceChildren(
    h("option", { value: "" }, "all intents"),
    ...intents.map((name) => h("option", { value: name }, name)),
  );
}

export function showIntentFilter(intent: string | null): void {
  $<HTMLSelectElement>("#intent-filter").value = intent ?? "";
}

export function clearMisclassified(): void {
  $("#errors tbody").replaceChildren();
}

/** Appends a page of texts; the More button shows while there are more. */
export function appendMisclassified(nodes: readonly Misclassified[], hasMore: boolean): void {
  $("#errors tbody").append(
    ...nodes.map((p) =>
      h(
        "tr",
        { "data-testid": "error-row" },
        h("td", null, p.index),
        h("td", null, p.text),
        h("td", null, p.gold.name),
        h("td", null, p.predicted.name),
        h("td", null, p.score.toFixed(3)),
      ),
    ),
  );
  $("#more").hidden = !hasMore;
}

/** "Compare runs": two finished runs, B − A overall and per intent. */
import type { Comparison, RunSummary } from "../api.ts";
import { $, h } from "../dom.ts";
import { pct, signedPoints } from "../format.ts";

export function bindCompare(onCompare: (a: string, b: string) => void): void {
  $("#compare-go").addEventListener("click", () =>
    onCompare($<HTMLSelectElement>("#compare-a").value, $<HTMLSelectElement>("#compare-b").value),
  );
}

/** The finished runs to choose from (A defaults to the second newest, B to the newest). */
export function renderCompareOptions(runs: readonly RunSummary[]): void {
  const done = runs.filter((r) => r.status === "succeeded");
  for (const [sel, idx] of [
    ["#compare-a", 1],
    ["#compare-b", 0],
  ] as const) {
    const select = $<HTMLSelectElement>(sel);
    const keep = select.value;
    select.replaceChildren(...done.map((r) => h("option", { value: r.id }, `${r.id} (${r.model})`)));
    select.value = keep || done[idx]?.id || done[0]?.id || "";
  }
  $("#compare").hidden = done.length < 2;
}

export function renderComparison(c: Comparison): void {
  $("#compare-summary").textContent =
    `accuracy ${signedPoints(c.accuracyDelta)} pts · F1-macro ${signedPoints(c.f1MacroDelta)} pts (B − A)`;
  $("#compare-table tbody").replaceChildren(
    ...c.intents
      .filter((r) => r.support > 0)
      .map((r) =>
        h(
          "tr",
          null,
          h("td", null, r.intent.name),
          h("td", null, pct(r.f1A)),
          h("td", null, pct(r.f1B)),
          h("td", { class: r.delta >= 0 ? "up" : "down" }, signedPoints(r.delta)),
          h("td", null, r.support),
        ),
      ),
  );
}

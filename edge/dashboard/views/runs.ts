/** The "Runs" table: one row per eval run, newest first; a click selects a run. */
import type { RunSummary } from "../api.ts";
import { $, h } from "../dom.ts";
import { pct } from "../format.ts";

export function renderRuns(
  runs: readonly RunSummary[],
  selected: string | null,
  onSelect: (id: string) => void,
): void {
  $("#runs tbody").replaceChildren(
    ...runs.map((r) => {
      const speed =
        r.status === "running" && r.textsPerSecond
          ? ` · ${r.textsPerSecond.toFixed(0)}/s · ETA ${Math.round(r.etaSeconds ?? 0)}s`
          : "";
      return h(
        "tr",
        {
          "data-testid": "run-row",
          "data-run": r.id,
          class: r.id === selected ? "selected" : null,
          onclick: () => onSelect(r.id),
        },
        h("td", null, h("code", null, r.id)),
        h("td", null, r.dataset.name),
        h("td", null, r.split),
        h("td", null, r.model),
        h(
          "td",
          { class: `status ${r.status}` },
          r.status,
          r.error && " ",
          r.error && h("span", { title: r.error }, "⚠"),
        ),
        h("td", null, h("progress", { max: 1, value: r.progress }), ` ${r.done}/${r.total}${speed}`),
        h("td", { "data-testid": "run-accuracy" }, r.metrics ? pct(r.metrics.accuracy) : "–"),
        h("td", { "data-testid": "run-f1" }, r.metrics ? pct(r.metrics.f1Macro) : "–"),
        h("td", null, new Date(r.createdAt).toLocaleString()),
      );
    }),
  );
  $("#runs-empty").hidden = runs.length > 0;
}

/** The model picker: every model that has runs; picking one shows only its runs and trends. */
export function renderModelFilter(
  runs: readonly RunSummary[],
  picked: string | null,
  onPick: (model: string | null) => void,
): void {
  const select = $<HTMLSelectElement>("#model-filter");
  const models = [...new Set(runs.map((r) => r.model))].sort();
  select.replaceChildren(
    h("option", { value: "" }, "every model"),
    ...models.map((m) => h("option", { value: m }, m)),
  );
  select.value = picked !== null && models.includes(picked) ? picked : "";
  select.onchange = () => onPick(select.value === "" ? null : select.value);
}

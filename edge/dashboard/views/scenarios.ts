/** "Accuracy per scenario". */
import type { RunMetrics } from "../api.ts";
import { $, h } from "../dom.ts";
import { pct } from "../format.ts";

export function renderScenarios(perScenario: RunMetrics["perScenario"]): void {
  $("#scenarios tbody").replaceChildren(
    ...perScenario.map((s) =>
      h("tr", null, h("td", null, s.scenario), h("td", null, pct(s.accuracy)), h("td", null, s.support)),
    ),
  );
}

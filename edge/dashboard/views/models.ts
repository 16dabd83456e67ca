/** The "Served model" panel: the model's own test and validation scores, and how they were measured. */
import type { ServedModel } from "../api.ts";
import { $, h } from "../dom.ts";
import { pct } from "../format.ts";

export function renderModels(models: readonly ServedModel[]): void {
  $("#models tbody").replaceChildren(
    ...models.flatMap((m) =>
      (
        [
          ["test", m.test],
          ["validation", m.validation],
        ] as const
      ).flatMap(([split, score]) =>
        score === null
          ? []
          : [
              h(
                "tr",
                { "data-testid": "model-row" },
                h("td", null, `${m.name} ${m.version}`),
                h("td", null, m.variant ?? "–"),
                h("td", null, split),
                h("td", null, pct(score.accuracy)),
                h("td", null, pct(score.f1Macro)),
                h("td", null, score.n),
                h("td", { "data-testid": "model-note" }, score.note ?? ""),
              ),
            ],
      ),
    ),
  );
}

/** The model server may be down while D1 still answers: the runs are shown anyway. */
export function renderModelsUnavailable(message: string): void {
  $("#models tbody").replaceChildren(
    h("tr", null, h("td", { colspan: 7 }, `model server unavailable: ${message}`)),
  );
}

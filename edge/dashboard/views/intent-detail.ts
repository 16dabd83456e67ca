/** The picked intent's scores, above the charts. */
import type { IntentRow } from "../api.ts";
import { $, h } from "../dom.ts";
import { pct } from "../format.ts";

/** None (no intent picked, or not one of the run's): hidden. */
export function renderIntentDetail(row: IntentRow | undefined): void {
  const box = $("#intent-detail");
  box.hidden = !row;
  if (!row) return;
  const figure = (label: string, value: string, testid?: string) =>
    h("span", null, `${label} `, h("b", testid ? { "data-testid": testid } : null, value));
  box.replaceChildren(
    h("h3", { "data-testid": "intent-name" }, row.intent.name),
    figure("scenario", row.intent.scenario),
    figure("precision", pct(row.precision), "intent-precision"),
    figure("recall", pct(row.recall), "intent-recall"),
    figure("F1", pct(row.f1), "intent-f1"),
    figure("support", String(row.support), "intent-support"),
  );
}

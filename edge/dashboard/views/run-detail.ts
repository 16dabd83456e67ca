/** The selected run's heading and its metric cards (or its progress while it runs). */
import type { RunDetail } from "../api.ts";
import { $, h } from "../dom.ts";
import { pct } from "../format.ts";

/** Shows the run's section (none: hides it); the metrics panels only when the run has metrics. */
export function renderRunDetail(d: RunDetail | null): void {
  $("#detail").hidden = !d;
  if (!d) return;
  $("#detail-title").textContent = `${d.id} · ${d.dataset.name}/${d.split} · ${d.model} · ${d.status}`;
  const m = d.metrics;
  const cards: [string, string, string][] = m
    ? [
        ["accuracy", "Accuracy", pct(m.accuracy)],
        ["f1", "F1-macro", pct(m.f1Macro)],
        ["f1w", "F1-weighted", pct(m.f1Weighted)],
        ["n", "Texts", String(m.n)],
        ["ece", "Calibration error", pct(m.ece)],
        ["oos", "Out-of-scope", pct(m.outOfScopeRate)],
        [
          "latency",
          "Batch latency p50/p95/p99",
          `${m.latencyP50Ms.toFixed(0)}/${m.latencyP95Ms.toFixed(0)}/${m.latencyP99Ms.toFixed(0)} ms`,
        ],
        ["speed", "Throughput", `${m.textsPerSecond.toFixed(0)} texts/s`],
      ]
    : [["progress", "Progress", `${d.done}/${d.total}`]];
  $("#cards").replaceChildren(
    ...cards.map(([k, label, value]) =>
      h(
        "div",
        { class: "card" },
        h("div", { class: "label" }, label),
        h("div", { class: "value", "data-testid": `metric-${k}` }, value),
      ),
    ),
  );
  $("#metrics-panels").hidden = !m;
}

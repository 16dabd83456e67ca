/** The confusion matrix panel: the heatmap (heatmap.ts), its scenario ticks and the hover tip. */
import type { RunMetrics } from "../api.ts";
import { $ } from "../dom.ts";
import { drawHeatmap } from "../heatmap.ts";

/** A click on a cell picks its gold intent. */
export function renderConfusion(m: RunMetrics, onIntent: (gold: string) => void): void {
  const tip = $("#heatmap-tip");
  const scenarios = new Map(m.perIntent.map((r) => [r.intent.name, r.intent.scenario]));
  drawHeatmap($<HTMLCanvasElement>("#heatmap"), {
    labels: m.confusion.labels,
    counts: m.confusion.counts,
    scenarioOf: (label) => scenarios.get(label) ?? label.split("_")[0]!,
    axes: { rows: $("#heatmap-rows"), cols: $("#heatmap-cols") },
    onHover(cell, x, y) {
      tip.hidden = !cell;
      if (!cell) return;
      tip.textContent = `${cell.gold} → ${cell.predicted}: ${cell.count}`;
      tip.style.left = `${x + 12}px`;
      tip.style.top = `${y + 12}px`;
    },
    onClick: onIntent,
  });
}

/** "F1 per intent": a bar per intent with support, worst first; a click on a bar picks its intent. */
import type { IntentRow } from "../api.ts";
import { Chart } from "../charts.ts";
import { $ } from "../dom.ts";

let chart: Chart | null = null;

export function renderIntentF1(perIntent: readonly IntentRow[], onIntent: (name: string) => void): void {
  clearIntentF1();
  const sorted = perIntent.filter((r) => r.support > 0).sort((a, b) => a.f1 - b.f1);
  const bars = $<HTMLCanvasElement>("#intent-f1");
  bars.height = Math.max(300, sorted.length * 14);
  chart = new Chart(bars, {
    type: "bar",
    data: {
      labels: sorted.map((r) => r.intent.name),
      datasets: [{ label: "F1", data: sorted.map((r) => 100 * r.f1), backgroundColor: "#2563eb" }],
    },
    options: {
      indexAxis: "y",
      animation: false,
      responsive: false,
      scales: { x: { min: 0, max: 100 }, y: { ticks: { autoSkip: false, font: { size: 10 } } } },
      onClick: (_e, elements) => {
        const hit = elements[0];
        if (hit) onIntent(sorted[hit.index]!.intent.name);
      },
    },
  });
}

export function clearIntentF1(): void {
  chart?.destroy();
  chart = null;
}

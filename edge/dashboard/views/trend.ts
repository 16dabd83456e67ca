/**
 * "Accuracy and F1-macro over runs": one chart each, with one line per dataset/split, and one HTML
 * legend for both that hides or shows a series.
 */
import type { RunSummary } from "../api.ts";
import { Chart } from "../charts.ts";
import { $, h } from "../dom.ts";

const SERIES_COLOURS = [
  "#2563eb",
  "#16a34a",
  "#dc2626",
  "#9333ea",
  "#ea580c",
  "#0891b2",
  "#ca8a04",
  "#db2777",
];

const CANVASES = [
  ["#trend-accuracy", "accuracy"],
  ["#trend-f1", "f1Macro"],
] as const;

/** Runs compare like with like only on the same data: one series per dataset and split. */
const seriesOf = (r: RunSummary) => `${r.dataset.name}/${r.split}`;

/**
 * The x axis is every finished run, oldest first, so that series stay in time order relative to
 * each other; a series has no point at the other series' runs and its line spans them. A click on
 * a legend entry toggles that series in both charts and tells `onToggle` (the choice outlives a
 * redraw: `hidden` has the series hidden so far).
 */
export function renderTrend(
  runs: readonly RunSummary[],
  hidden: ReadonlySet<string>,
  onToggle: (series: string, visible: boolean) => void,
): void {
  const done = runs.filter((r) => r.metrics).reverse();
  const series = [...new Set(done.map(seriesOf))];
  const colour = (i: number) => SERIES_COLOURS[i % SERIES_COLOURS.length]!;
  const charts = CANVASES.map(([id, metric]) => {
    const canvas = $<HTMLCanvasElement>(id);
    Chart.getChart(canvas)?.destroy();
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: done.map((r) => [r.id.slice(4, 10), r.model]),
        datasets: series.map((name, i) => ({
          label: name,
          data: done.map((r) => (seriesOf(r) === name ? 100 * r.metrics![metric] : null)),
          borderColor: colour(i),
          backgroundColor: colour(i),
          spanGaps: true,
          pointRadius: 3,
          hidden: hidden.has(name),
        })),
      },
      options: {
        animation: false,
        responsive: false,
        plugins: {
          legend: { display: false }, // one HTML legend for both charts (#trend-legend)
          tooltip: {
            callbacks: {
              title: (items) => {
                const r = done[items[0]!.dataIndex]!;
                return `${r.id} · ${r.model} · ${new Date(r.createdAt).toLocaleString()}`;
              },
              label: (item) => `${item.dataset.label}: ${(item.parsed.y ?? 0).toFixed(2)}%`,
            },
          },
        },
        scales: { y: { suggestedMax: 100, title: { display: true, text: "%" } } },
      },
    });
  });
  // The legend is read from the charts' own datasets, so it names exactly the series drawn.
  $("#trend-legend").replaceChildren(
    ...charts[0]!.data.datasets.map((ds, i) => {
      const name = ds.label!;
      const points = ds.data.filter((v) => v !== null).length;
      const swatch = h("span", { class: "swatch" });
      swatch.style.background = colour(i); // CSSOM, which the CSP allows (a style attribute it would not)
      const button = h(
        "button",
        {
          type: "button",
          "aria-pressed": String(!hidden.has(name)),
          title: `${points} run${points === 1 ? "" : "s"}; click to hide or show`,
        },
        swatch,
        name,
      );
      button.addEventListener("click", () => {
        const visible = button.getAttribute("aria-pressed") !== "true";
        button.setAttribute("aria-pressed", String(visible));
        for (const chart of charts) {
          chart.setDatasetVisibility(i, visible);
          chart.update();
        }
        onToggle(name, visible);
      });
      return h("li", { "data-series": name, "data-points": points }, button);
    }),
  );
}

/** No key, no runs: the charts go. */
export function clearTrend(): void {
  for (const [id] of CANVASES) Chart.getChart($<HTMLCanvasElement>(id))?.destroy();
}

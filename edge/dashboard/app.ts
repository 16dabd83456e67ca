import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import {
  apiKey,
  GraphQLRequestError,
  gql,
  NO_KEY,
  RUN_DETAIL,
  RUN_FIELDS,
  STALE,
  setApiKey,
  takeKeyFromFragment,
} from "./graphql.ts";
import { drawHeatmap } from "./heatmap.ts";

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  Legend,
);

interface RunSummary {
  id: string;
  status: string;
  split: string;
  model: string;
  total: number;
  done: number;
  progress: number;
  textsPerSecond: number | null;
  etaSeconds: number | null;
  createdAt: string;
  finishedAt: string | null;
  error: string | null;
  dataset: { id: string; name: string };
  metrics: { accuracy: number; f1Macro: number } | null;
}

interface IntentRow {
  intent: { name: string; scenario: string };
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

interface RunDetail {
  id: string;
  status: string;
  split: string;
  model: string;
  total: number;
  done: number;
  dataset: { name: string };
  metrics: {
    n: number;
    accuracy: number;
    f1Macro: number;
    f1Weighted: number;
    ece: number;
    outOfScopeRate: number;
    latencyP50Ms: number;
    latencyP95Ms: number;
    latencyP99Ms: number;
    textsPerSecond: number;
    perIntent: IntentRow[];
    perScenario: { scenario: string; accuracy: number; support: number }[];
    confusion: { labels: string[]; counts: number[][] };
  } | null;
}

const $ = <T extends HTMLElement>(sel: string) => document.querySelector<T>(sel)!;
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const state: {
  runs: RunSummary[];
  selected: string | null;
  detail: RunDetail | null;
  intent: string | null;
  cursor: string | null;
  charts: Chart[];
  /** Series (dataset/split) hidden from the trend charts by a click on the legend. */
  hiddenSeries: Set<string>;
} = {
  runs: [],
  selected: null,
  detail: null,
  intent: null,
  cursor: null,
  charts: [],
  hiddenSeries: new Set(),
};

/** The scope every query of the dashboard needs. */
const SCOPE = "eval";

/**
 * Without a usable key the dashboard shows the key form instead of data: `message` says why the
 * last key did not do (nothing when there simply is none yet).
 */
function askForKey(message: string | null): void {
  reset();
  const box = $("#key-message");
  box.textContent = message ?? "";
  box.hidden = message === null;
  $("#keybar").hidden = false;
  $("#keystatus").hidden = true;
  $("#error").hidden = true;
  $<HTMLInputElement>("#key").focus();
}

/** A new key: start over with it. */
function reload(): void {
  reset();
  $("#key-message").hidden = true;
  $("#error").hidden = true;
  void loadRuns().catch(showError);
}

/** Forget everything shown for the previous key. */
function reset(): void {
  state.runs = [];
  state.selected = null;
  state.detail = null;
  state.intent = null;
  state.cursor = null;
  for (const c of state.charts) c.destroy();
  state.charts = [];
  for (const id of ["#trend-accuracy", "#trend-f1"]) Chart.getChart($<HTMLCanvasElement>(id))?.destroy();
  $("#content").hidden = true;
}

function showError(error: unknown): void {
  if (error instanceof GraphQLRequestError) {
    switch (error.code) {
      case STALE:
        return; // answered for a key that is no longer the one in use
      case NO_KEY:
        askForKey(null);
        return;
      case "UNAUTHENTICATED":
        setApiKey(null);
        askForKey(`This key was refused: ${error.message}. Enter another API key.`);
        return;
      case "FORBIDDEN":
        setApiKey(null);
        askForKey(
          `This key is valid but lacks the ${SCOPE} scope, which the dashboard needs. Enter a key with the ${SCOPE} scope.`,
        );
        return;
    }
  }
  const box = $("#error");
  box.textContent = error instanceof Error ? error.message : String(error);
  box.hidden = false;
}

interface SplitScore {
  n: number;
  accuracy: number;
  f1Macro: number;
  note: string | null;
}

/** The served model's own scores, each with the bundle's note on what data it was measured on. */
async function loadModels(): Promise<void> {
  const body = $("#models tbody");
  try {
    const data = await gql<{
      models: {
        name: string;
        version: string;
        variant: string | null;
        test: SplitScore | null;
        validation: SplitScore | null;
      }[];
    }>(
      "query Models { models { name version variant test { n accuracy f1Macro note } validation { n accuracy f1Macro note } } }",
    );
    body.innerHTML = data.models
      .flatMap((m) =>
        (
          [
            ["test", m.test],
            ["validation", m.validation],
          ] as const
        )
          .filter(([, score]) => score !== null)
          .map(
            ([split, score]) =>
              `<tr data-testid="model-row"><td>${esc(m.name)} ${esc(m.version)}</td><td>${esc(m.variant ?? "–")}</td><td>${split}</td><td>${pct(score!.accuracy)}</td><td>${pct(score!.f1Macro)}</td><td>${score!.n}</td><td data-testid="model-note">${esc(score!.note ?? "")}</td></tr>`,
          ),
      )
      .join("");
  } catch (error) {
    // The model server may be down while D1 still answers: the runs are shown anyway.
    body.innerHTML = `<tr><td colspan="7">model server unavailable: ${esc(error instanceof Error ? error.message : String(error))}</td></tr>`;
  }
}

async function loadRuns(): Promise<void> {
  void loadModels();
  const data = await gql<{ evalRuns: RunSummary[] }>(`query Runs { evalRuns(first: 100) { ${RUN_FIELDS} } }`);
  state.runs = data.evalRuns;
  $("#keybar").hidden = true;
  $("#keystatus").hidden = false;
  $("#content").hidden = false;
  renderRuns();
  renderTrend();
  renderCompareOptions();
  if (!state.selected && state.runs.length > 0) {
    const firstDone = state.runs.find((r) => r.status === "succeeded") ?? state.runs[0]!;
    await selectRun(firstDone.id);
  }
}

function renderRuns(): void {
  const body = $("#runs tbody");
  body.innerHTML = state.runs
    .map((r) => {
      const progress = `<progress max="1" value="${r.progress}"></progress> ${r.done}/${r.total}`;
      const speed =
        r.status === "running" && r.textsPerSecond
          ? ` · ${r.textsPerSecond.toFixed(0)}/s · ETA ${Math.round(r.etaSeconds ?? 0)}s`
          : "";
      return `<tr data-testid="run-row" data-run="${esc(r.id)}" class="${r.id === state.selected ? "selected" : ""}">
        <td><code>${esc(r.id)}</code></td><td>${esc(r.dataset.name)}</td><td>${esc(r.split)}</td><td>${esc(r.model)}</td>
        <td class="status ${esc(r.status)}">${esc(r.status)}${r.error ? ` <span title="${esc(r.error)}">⚠</span>` : ""}</td>
        <td>${progress}${speed}</td>
        <td data-testid="run-accuracy">${r.metrics ? pct(r.metrics.accuracy) : "–"}</td>
        <td data-testid="run-f1">${r.metrics ? pct(r.metrics.f1Macro) : "–"}</td>
        <td>${new Date(r.createdAt).toLocaleString()}</td></tr>`;
    })
    .join("");
  for (const row of body.querySelectorAll<HTMLTableRowElement>("tr")) {
    row.onclick = () => void selectRun(row.dataset.run!).catch(showError);
  }
  $("#runs-empty").hidden = state.runs.length > 0;
}

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

/** Runs compare like with like only on the same data: one series per dataset and split. */
const seriesOf = (r: RunSummary) => `${r.dataset.name}/${r.split}`;

/**
 * Accuracy and F1-macro over runs, one chart each, with one line per dataset/split. The x axis is
 * every finished run, oldest first, so that series stay in time order relative to each other; a
 * series has no point at the other series' runs and its line spans them.
 */
function renderTrend(): void {
  const done = state.runs.filter((r) => r.metrics).reverse();
  const series = [...new Set(done.map(seriesOf))];
  const colour = (i: number) => SERIES_COLOURS[i % SERIES_COLOURS.length]!;
  const charts = (
    [
      ["#trend-accuracy", "accuracy"],
      ["#trend-f1", "f1Macro"],
    ] as const
  ).map(([id, metric]) => {
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
          hidden: state.hiddenSeries.has(name),
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
  const legend = $("#trend-legend");
  legend.replaceChildren(
    ...charts[0]!.data.datasets.map((ds, i) => {
      const name = ds.label!;
      const points = ds.data.filter((v) => v !== null).length;
      const item = document.createElement("li");
      item.dataset.series = name;
      item.dataset.points = String(points);
      const button = document.createElement("button");
      button.type = "button";
      button.setAttribute("aria-pressed", String(!state.hiddenSeries.has(name)));
      button.title = `${points} run${points === 1 ? "" : "s"}; click to hide or show`;
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colour(i);
      button.append(swatch, name);
      button.onclick = () => {
        const visible = state.hiddenSeries.has(name);
        if (visible) state.hiddenSeries.delete(name);
        else state.hiddenSeries.add(name);
        button.setAttribute("aria-pressed", String(visible));
        for (const chart of charts) {
          chart.setDatasetVisibility(i, visible);
          chart.update();
        }
      };
      item.append(button);
      return item;
    }),
  );
}

async function selectRun(id: string): Promise<void> {
  state.selected = id;
  state.intent = null;
  renderRuns();
  const data = await gql<{ evalRun: RunDetail | null }>(
    `query Run($id: ID!) { evalRun(id: $id) { ${RUN_DETAIL} } }`,
    {
      id,
    },
  );
  state.detail = data.evalRun;
  renderDetail();
  await loadMisclassified(true);
}

function renderDetail(): void {
  const d = state.detail;
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
  $("#cards").innerHTML = cards
    .map(
      ([k, label, value]) =>
        `<div class="card"><div class="label">${label}</div><div class="value" data-testid="metric-${k}">${value}</div></div>`,
    )
    .join("");
  for (const c of state.charts) c.destroy();
  state.charts = [];
  $("#metrics-panels").hidden = !m;
  if (!m) return;
  const sorted = [...m.perIntent].filter((r) => r.support > 0).sort((a, b) => a.f1 - b.f1);
  const bars = $<HTMLCanvasElement>("#intent-f1");
  bars.height = Math.max(300, sorted.length * 14);
  state.charts.push(
    new Chart(bars, {
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
          if (hit) void selectIntent(sorted[hit.index]!.intent.name).catch(showError);
        },
      },
    }),
  );
  $("#scenarios tbody").innerHTML = m.perScenario
    .map((s) => `<tr><td>${esc(s.scenario)}</td><td>${pct(s.accuracy)}</td><td>${s.support}</td></tr>`)
    .join("");
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
    onClick: (gold) => void selectIntent(gold).catch(showError),
  });
  const select = $<HTMLSelectElement>("#intent-filter");
  select.innerHTML = `<option value="">all intents</option>${m.perIntent
    .map((r) => `<option value="${esc(r.intent.name)}">${esc(r.intent.name)}</option>`)
    .join("")}`;
  select.onchange = () => void selectIntent(select.value || null).catch(showError);
  renderIntentDetail();
}

function renderIntentDetail(): void {
  const box = $("#intent-detail");
  const row = state.detail?.metrics?.perIntent.find((r) => r.intent.name === state.intent);
  box.hidden = !row;
  if (!row) return;
  box.innerHTML = `<h3 data-testid="intent-name">${esc(row.intent.name)}</h3>
    <span>scenario <b>${esc(row.intent.scenario)}</b></span>
    <span>precision <b data-testid="intent-precision">${pct(row.precision)}</b></span>
    <span>recall <b data-testid="intent-recall">${pct(row.recall)}</b></span>
    <span>F1 <b data-testid="intent-f1">${pct(row.f1)}</b></span>
    <span>support <b data-testid="intent-support">${row.support}</b></span>`;
}

async function selectIntent(name: string | null): Promise<void> {
  state.intent = name;
  $<HTMLSelectElement>("#intent-filter").value = name ?? "";
  renderIntentDetail();
  await loadMisclassified(true);
}

async function loadMisclassified(reset: boolean): Promise<void> {
  if (!state.detail) return;
  if (reset) {
    state.cursor = null;
    $("#errors tbody").innerHTML = "";
  }
  const data = await gql<{
    evalRun: {
      misclassified: {
        edges: {
          node: {
            index: number;
            text: string;
            score: number;
            gold: { name: string };
            predicted: { name: string };
          };
        }[];
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
      };
    };
  }>(
    `query Errors($id: ID!, $after: String, $intent: String) { evalRun(id: $id) {
      misclassified(first: 25, after: $after, intent: $intent) {
        edges { node { index text score gold { name } predicted { name } } }
        pageInfo { hasNextPage endCursor } } } }`,
    { id: state.detail.id, after: state.cursor, intent: state.intent },
  );
  const page = data.evalRun.misclassified;
  $("#errors tbody").insertAdjacentHTML(
    "beforeend",
    page.edges
      .map(
        ({ node: p }) =>
          `<tr data-testid="error-row"><td>${p.index}</td><td>${esc(p.text)}</td><td>${esc(p.gold.name)}</td><td>${esc(p.predicted.name)}</td><td>${p.score.toFixed(3)}</td></tr>`,
      )
      .join(""),
  );
  state.cursor = page.pageInfo.endCursor;
  $<HTMLButtonElement>("#more").hidden = !page.pageInfo.hasNextPage;
}

function renderCompareOptions(): void {
  const done = state.runs.filter((r) => r.status === "succeeded");
  for (const [sel, idx] of [
    ["#compare-a", 1],
    ["#compare-b", 0],
  ] as const) {
    const select = $<HTMLSelectElement>(sel);
    const keep = select.value;
    select.innerHTML = done
      .map((r) => `<option value="${esc(r.id)}">${esc(r.id)} (${esc(r.model)})</option>`)
      .join("");
    select.value = keep || done[idx]?.id || done[0]?.id || "";
  }
  $("#compare").hidden = done.length < 2;
}

async function compare(): Promise<void> {
  const a = $<HTMLSelectElement>("#compare-a").value;
  const b = $<HTMLSelectElement>("#compare-b").value;
  const data = await gql<{
    compareEvalRuns: {
      accuracyDelta: number;
      f1MacroDelta: number;
      intents: { intent: { name: string }; f1A: number; f1B: number; delta: number; support: number }[];
    };
  }>(
    `query Compare($a: ID!, $b: ID!) { compareEvalRuns(a: $a, b: $b) { accuracyDelta f1MacroDelta
      intents { intent { name } f1A f1B delta support } } }`,
    { a, b },
  );
  const c = data.compareEvalRuns;
  const sign = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(2)}`;
  $("#compare-summary").textContent =
    `accuracy ${sign(c.accuracyDelta)} pts · F1-macro ${sign(c.f1MacroDelta)} pts (B − A)`;
  $("#compare-table tbody").innerHTML = c.intents
    .filter((r) => r.support > 0)
    .map(
      (r) =>
        `<tr><td>${esc(r.intent.name)}</td><td>${pct(r.f1A)}</td><td>${pct(r.f1B)}</td><td class="${r.delta >= 0 ? "up" : "down"}">${sign(r.delta)}</td><td>${r.support}</td></tr>`,
    )
    .join("");
}

async function poll(): Promise<void> {
  try {
    if (!apiKey()) return;
    const running = state.runs.some((r) => r.status === "running" || r.status === "queued");
    if (running) {
      await loadRuns();
      const sel = state.runs.find((r) => r.id === state.selected);
      if (sel && sel.status === "succeeded" && state.detail?.status !== "succeeded") await selectRun(sel.id);
    }
  } catch (error) {
    showError(error);
  } finally {
    setTimeout(() => void poll(), 2000);
  }
}

function start(): void {
  takeKeyFromFragment();
  $<HTMLFormElement>("#keyform").onsubmit = (ev) => {
    ev.preventDefault();
    const input = $<HTMLInputElement>("#key");
    const key = input.value.trim();
    if (!key) return;
    input.value = "";
    setApiKey(key);
    reload();
  };
  // A `#key=` pasted into the address bar of an open dashboard changes only the fragment.
  window.addEventListener("hashchange", () => {
    if (!new URLSearchParams(location.hash.slice(1)).has("key")) return;
    takeKeyFromFragment();
    reload();
  });
  $<HTMLButtonElement>("#forget").onclick = () => {
    setApiKey(null);
    askForKey(null);
  };
  $<HTMLButtonElement>("#more").onclick = () => void loadMisclassified(false).catch(showError);
  $<HTMLButtonElement>("#compare-go").onclick = () => void compare().catch(showError);
  void loadRuns()
    .catch(showError)
    .finally(() => {
      document.body.dataset.ready = "true";
      setTimeout(() => void poll(), 2000);
    });
}

start();

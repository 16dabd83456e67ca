/**
 * The 60×60 confusion matrix: gold intents are rows, predicted intents columns. Labels come sorted
 * by name, and MASSIVE names are `scenario_action`, so rows and columns fall into scenario blocks:
 * each block is labelled once on both axes (HTML ticks beside the canvas) and separated by lines;
 * the exact intents of a cell show on hover. The diagonal is shown in a separate colour so that
 * errors, the interesting cells, stand out, and in-scenario confusions sit on shaded blocks.
 */
export interface HeatmapOptions {
  labels: string[];
  counts: number[][];
  /** The scenario of an intent; default: its name up to the first `_`. */
  scenarioOf?(label: string): string;
  /** Containers for the scenario ticks of the rows (gold) and the columns (predicted). */
  axes: { rows: HTMLElement; cols: HTMLElement };
  onHover(cell: { gold: string; predicted: string; count: number } | null, x: number, y: number): void;
  onClick(gold: string): void;
}

export interface ScenarioBlock {
  scenario: string;
  /** First label index of the block. */
  start: number;
  /** One past its last. */
  end: number;
}

/** Consecutive labels of the same scenario, in label order. */
export function scenarioBlocks(
  labels: readonly string[],
  scenarioOf: (label: string) => string,
): ScenarioBlock[] {
  const blocks: ScenarioBlock[] = [];
  labels.forEach((label, i) => {
    const scenario = scenarioOf(label);
    const last = blocks.at(-1);
    if (last && last.scenario === scenario) last.end = i + 1;
    else blocks.push({ scenario, start: i, end: i + 1 });
  });
  return blocks;
}

/** Cell size and the matrix's offset inside the canvas, in CSS pixels. */
export const HEATMAP_CELL = 10;
export const HEATMAP_MARGIN = 4;

export function drawHeatmap(canvas: HTMLCanvasElement, opts: HeatmapOptions): void {
  const n = opts.labels.length;
  const cell = HEATMAP_CELL;
  const margin = HEATMAP_MARGIN;
  const size = n * cell + margin * 2;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = size * ratio;
  canvas.height = size * ratio;
  canvas.style.width = `${size}px`;
  canvas.style.height = `${size}px`;
  const scenarioOf = opts.scenarioOf ?? ((l: string) => l.split("_")[0]!);
  const blocks = scenarioBlocks(opts.labels, scenarioOf);
  const blockOf: number[] = [];
  blocks.forEach((b, bi) => {
    for (let i = b.start; i < b.end; i++) blockOf[i] = bi;
  });
  let maxOff = 1;
  let maxDiag = 1;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const c = opts.counts[i]![j]!;
      if (i === j) maxDiag = Math.max(maxDiag, c);
      else maxOff = Math.max(maxOff, c);
    }

  const rowTicks = renderTicks(opts.axes.rows, blocks, opts.labels, "row", size);
  const colTicks = renderTicks(opts.axes.cols, blocks, opts.labels, "col", size);

  const g = canvas.getContext("2d")!;
  const draw = (hover: { i: number; j: number } | null) => {
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.fillStyle = "#fff";
    g.fillRect(0, 0, size, size);
    // In-scenario confusions (gold and predicted of the same scenario) on a shaded block.
    g.fillStyle = "#f1f5f9";
    for (const b of blocks) {
      const p = margin + b.start * cell;
      const w = (b.end - b.start) * cell;
      g.fillRect(p, p, w, w);
    }
    if (hover) {
      g.fillStyle = "rgba(250, 204, 21, 0.25)";
      g.fillRect(margin, margin + hover.i * cell, n * cell, cell);
      g.fillRect(margin + hover.j * cell, margin, cell, n * cell);
    }
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        const c = opts.counts[i]![j]!;
        if (c === 0) continue;
        // sqrt scale: single confusions must stay visible next to cells of 20
        const t = Math.sqrt(c / (i === j ? maxDiag : maxOff));
        g.fillStyle =
          i === j ? `rgba(37, 99, 235, ${0.15 + 0.85 * t})` : `rgba(220, 38, 38, ${0.2 + 0.8 * t})`;
        g.fillRect(margin + j * cell, margin + i * cell, cell - 1, cell - 1);
      }
    // Scenario block separators, then the frame.
    g.strokeStyle = "#94a3b8";
    g.lineWidth = 1;
    g.beginPath();
    for (const b of blocks.slice(1)) {
      const p = margin + b.start * cell - 0.5;
      g.moveTo(margin, p);
      g.lineTo(margin + n * cell, p);
      g.moveTo(p, margin);
      g.lineTo(p, margin + n * cell);
    }
    g.stroke();
    g.strokeRect(margin - 0.5, margin - 0.5, n * cell + 1, n * cell + 1);
    if (hover) {
      g.strokeStyle = "#0f172a";
      g.strokeRect(margin + hover.j * cell - 0.5, margin + hover.i * cell - 0.5, cell, cell);
    }
  };

  let hovered: { i: number; j: number } | null = null;
  const setHover = (at: { i: number; j: number } | null) => {
    if (at?.i === hovered?.i && at?.j === hovered?.j) return;
    hovered = at;
    draw(at);
    rowTicks.forEach((t, bi) => {
      t.classList.toggle("active", at !== null && blockOf[at.i] === bi);
    });
    colTicks.forEach((t, bi) => {
      t.classList.toggle("active", at !== null && blockOf[at.j] === bi);
    });
  };
  draw(null);

  const cellAt = (ev: MouseEvent) => {
    const rect = canvas.getBoundingClientRect();
    const j = Math.floor((ev.clientX - rect.left - margin) / cell);
    const i = Math.floor((ev.clientY - rect.top - margin) / cell);
    return i >= 0 && j >= 0 && i < n && j < n ? { i, j } : null;
  };
  canvas.onmousemove = (ev) => {
    const at = cellAt(ev);
    setHover(at);
    opts.onHover(
      at
        ? { gold: opts.labels[at.i]!, predicted: opts.labels[at.j]!, count: opts.counts[at.i]![at.j]! }
        : null,
      ev.pageX,
      ev.pageY,
    );
  };
  canvas.onmouseleave = () => {
    setHover(null);
    opts.onHover(null, 0, 0);
  };
  canvas.onclick = (ev) => {
    const at = cellAt(ev);
    if (at) opts.onClick(opts.labels[at.i]!);
  };
}

/** One tick per scenario block, positioned over the block's rows (or columns) of the canvas. */
function renderTicks(
  container: HTMLElement,
  blocks: readonly ScenarioBlock[],
  labels: readonly string[],
  axis: "row" | "col",
  size: number,
): HTMLElement[] {
  container.replaceChildren();
  if (axis === "row") container.style.height = `${size}px`;
  else container.style.width = `${size}px`;
  return blocks.map((b, bi) => {
    const tick = document.createElement("div");
    tick.className = `tick${bi % 2 ? " alt" : ""}`;
    tick.dataset.scenario = b.scenario;
    tick.dataset.start = String(b.start);
    tick.dataset.end = String(b.end);
    tick.title = `${b.scenario}: ${labels.slice(b.start, b.end).join(", ")}`;
    const from = `${HEATMAP_MARGIN + b.start * HEATMAP_CELL}px`;
    const extent = `${(b.end - b.start) * HEATMAP_CELL}px`;
    if (axis === "row") {
      tick.style.top = from;
      tick.style.height = extent;
    } else {
      tick.style.left = from;
      tick.style.width = extent;
    }
    const text = document.createElement("span");
    text.textContent = b.scenario;
    tick.append(text);
    container.append(tick);
    return tick;
  });
}

/**
 * The 60×60 confusion matrix on a canvas. Labels come sorted by name, and MASSIVE names are
 * `scenario_action`, so rows and columns are grouped by scenario; scenario boundaries are drawn.
 * The diagonal is shown in a separate colour so that errors, the interesting cells, stand out.
 */
export interface HeatmapOptions {
  labels: string[];
  counts: number[][];
  onHover(cell: { gold: string; predicted: string; count: number } | null, x: number, y: number): void;
  onClick(gold: string): void;
}

export function drawHeatmap(canvas: HTMLCanvasElement, opts: HeatmapOptions): void {
  const n = opts.labels.length;
  const cell = 10;
  const margin = 4;
  const size = n * cell + margin * 2;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = size * ratio;
  canvas.height = size * ratio;
  canvas.style.width = `${size}px`;
  canvas.style.height = `${size}px`;
  const g = canvas.getContext("2d")!;
  g.scale(ratio, ratio);
  g.fillStyle = "#fff";
  g.fillRect(0, 0, size, size);
  let maxOff = 1;
  let maxDiag = 1;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const c = opts.counts[i]![j]!;
      if (i === j) maxDiag = Math.max(maxDiag, c);
      else maxOff = Math.max(maxOff, c);
    }
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const c = opts.counts[i]![j]!;
      if (c === 0) continue;
      // sqrt scale: single confusions must stay visible next to cells of 20
      const t = Math.sqrt(c / (i === j ? maxDiag : maxOff));
      g.fillStyle = i === j ? `rgba(37, 99, 235, ${0.15 + 0.85 * t})` : `rgba(220, 38, 38, ${0.2 + 0.8 * t})`;
      g.fillRect(margin + j * cell, margin + i * cell, cell - 1, cell - 1);
    }
  g.strokeStyle = "#94a3b8";
  g.lineWidth = 0.5;
  const scenario = (l: string) => l.split("_")[0];
  for (let i = 1; i < n; i++) {
    if (scenario(opts.labels[i]!) === scenario(opts.labels[i - 1]!)) continue;
    const p = margin + i * cell - 0.5;
    g.beginPath();
    g.moveTo(margin, p);
    g.lineTo(size - margin, p);
    g.moveTo(p, margin);
    g.lineTo(p, size - margin);
    g.stroke();
  }
  const cellAt = (ev: MouseEvent) => {
    const rect = canvas.getBoundingClientRect();
    const j = Math.floor((ev.clientX - rect.left - margin) / cell);
    const i = Math.floor((ev.clientY - rect.top - margin) / cell);
    return i >= 0 && j >= 0 && i < n && j < n ? { i, j } : null;
  };
  canvas.onmousemove = (ev) => {
    const at = cellAt(ev);
    opts.onHover(
      at
        ? { gold: opts.labels[at.i]!, predicted: opts.labels[at.j]!, count: opts.counts[at.i]![at.j]! }
        : null,
      ev.pageX,
      ev.pageY,
    );
  };
  canvas.onmouseleave = () => opts.onHover(null, 0, 0);
  canvas.onclick = (ev) => {
    const at = cellAt(ev);
    if (at) opts.onClick(opts.labels[at.i]!);
  };
}

/** A one-line progress bar on stderr (stdout stays machine-readable). Silent when stderr is not a TTY,
 * except for a final summary line, so logs and CI output stay clean. */
export class ProgressBar {
  private readonly started = performance.now();
  private lastDraw = 0;
  private readonly tty = process.stderr.isTTY === true;

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(done: number): void {
    if (!this.tty) return;
    const now = performance.now();
    if (done < this.total && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = 30;
    const frac = this.total === 0 ? 1 : done / this.total;
    const filled = Math.round(frac * width);
    const rate = done / Math.max(1e-9, (now - this.started) / 1000);
    const eta = rate > 0 ? (this.total - done) / rate : 0;
    process.stderr.write(
      `\r${this.label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${this.total} ` +
        `${rate.toFixed(0)}/s ETA ${eta.toFixed(0)}s `,
    );
  }

  finish(done: number): void {
    this.update(done);
    const seconds = (performance.now() - this.started) / 1000;
    process.stderr.write(
      `${this.tty ? "\n" : ""}${this.label}: ${done}/${this.total} in ${seconds.toFixed(1)}s\n`,
    );
  }
}

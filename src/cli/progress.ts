/**
 * A one-line terminal progress bar for long CLI operations (convert, image
 * import, driver applyDiff …). It draws only on a TTY — on a pipe or file
 * it stays silent, so scripted output is just the command's result — and
 * redraws at most `maxHz` times a second however often it is updated.
 * The clock is injectable so that tests can drive it without sleeping.
 */

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): unknown;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  /** Total bytes when known (a file), for a percentage and a bar. */
  totalBytes?: number;
  label?: string;
  /** Redraws per second at most. Default 10. */
  maxHz?: number;
  /** Milliseconds, monotonic. Default: process.hrtime (performance.now would load perf_hooks, ~1.5 ms of every CLI start). */
  now?: () => number;
}

export interface ProgressState {
  bytes: number;
  entries?: number;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${UNITS[i]}`;
}

function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export class ProgressBar {
  private readonly stream: ProgressStream;
  private readonly enabled: boolean;
  private readonly interval: number;
  private readonly now: () => number;
  private readonly start: number;
  private lastDraw = -Infinity;
  private state: ProgressState = { bytes: 0 };
  private drawn = false;
  /** How many times the line was drawn (tests use it to check the rate limit). */
  draws = 0;

  constructor(private readonly options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.enabled = this.stream.isTTY === true;
    this.interval = 1000 / (options.maxHz ?? 10);
    this.now = options.now ?? monotonicMs;
    this.start = this.now();
  }

  get active(): boolean {
    return this.enabled;
  }

  update(state: ProgressState): void {
    this.state = state;
    if (!this.enabled) return;
    const t = this.now();
    if (t - this.lastDraw < this.interval) return;
    this.lastDraw = t;
    this.draw(t);
  }

  /** Final redraw (so the last numbers are shown), then end the line. */
  done(): void {
    if (!this.enabled) return;
    this.draw(this.now());
    this.stream.write('\n');
    this.drawn = false;
  }

  /** Erase the line (before printing an error, say). */
  clear(): void {
    if (!this.enabled || !this.drawn) return;
    this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }

  render(elapsedMs: number): string {
    const { bytes, entries } = this.state;
    const total = this.options.totalBytes;
    const rate = elapsedMs > 0 ? (bytes * 1000) / elapsedMs : 0;
    const parts: string[] = [];
    if (this.options.label) parts.push(this.options.label);
    const tail = [formatBytes(bytes) + (total ? ` / ${formatBytes(total)}` : ''), `${formatBytes(rate)}/s`];
    if (entries !== undefined) tail.push(`${entries} entries`);
    const text = tail.join('  ');
    if (total && total > 0) {
      const frac = Math.min(1, bytes / total);
      const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - text.length - (this.options.label?.length ?? 0) - 12));
      const filled = Math.round(frac * width);
      parts.push(`[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%`);
    }
    parts.push(text);
    const line = parts.join(' ');
    const cols = this.stream.columns ?? 80;
    return line.length >= cols ? line.slice(0, cols - 1) : line;
  }

  private draw(t: number): void {
    this.stream.write(`\r\x1b[2K${this.render(t - this.start)}`);
    this.drawn = true;
    this.draws++;
  }
}

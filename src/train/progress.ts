/**
 * Progress reporting: a redrawn bar on a terminal, plain lines in logs, and a live-updating
 * line in notebooks (one output, overwritten in place).
 */
import { inNotebook, LiveDisplay } from '../util/notebook';

export interface ProgressState {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
  accuracy?: number;
  samplesPerSec: number;
  /** Seconds left in the run. */
  eta: number;
  extra?: Record<string, number>;
}

/** Seconds as m:ss or h:mm:ss ("--:--" when unknown). */
export function clock(sec: number): string {
  if (!Number.isFinite(sec)) return '--:--';
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return `${h ? `${h}:` : ''}${String(m).padStart(h ? 2 : 1, '0')}:${String(r).padStart(2, '0')}`;
}

/** The bar of a progress line: "[=====>    ]" for a fraction done in [0, 1]. */
export function progressBar(frac: number, width = 24): string {
  const filled = Math.min(width, Math.max(0, Math.round(frac * width)));
  return `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? (filled === width ? '=' : '>') : ''}${' '.repeat(width - filled)}]`;
}

/** One line: "epoch 2/5 [=====>    ] 45% 12/27 loss 1.2345 acc 56.0% 1234 samples/s ETA 0:12". */
export function formatProgress(p: ProgressState, width = 24): string {
  const frac = p.steps ? p.step / p.steps : 1;
  const parts = [
    `epoch ${p.epoch}/${p.epochs}`,
    progressBar(frac, width),
    `${String(Math.round(frac * 100)).padStart(3)}%`,
    `${p.step}/${p.steps}`,
    `loss ${p.loss.toFixed(4)}`,
  ];
  if (p.accuracy !== undefined) parts.push(`acc ${(p.accuracy * 100).toFixed(1)}%`);
  for (const [k, v] of Object.entries(p.extra ?? {})) parts.push(`${k} ${Number.isInteger(v) ? v : v.toPrecision(4)}`);
  parts.push(`${Math.round(p.samplesPerSec)} samples/s`, `ETA ${clock(p.eta)}`);
  return parts.join(' ');
}

export const PROGRESS_MODES = ['auto', 'tty', 'lines', 'notebook', 'none'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

export class ProgressReporter {
  private readonly mode: Exclude<ProgressMode, 'auto'>;
  private live = new LiveDisplay();
  private lastDraw = 0;
  private lastLinePct = -1;
  private lastLine = '';

  constructor(
    mode: ProgressMode = 'auto',
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.mode = mode === 'auto' ? (inNotebook() ? 'notebook' : stream.isTTY ? 'tty' : 'lines') : mode;
  }

  update(p: ProgressState, force = false): void {
    const now = Date.now();
    const line = formatProgress(p);
    if (this.mode === 'none') return;
    // lastDraw moves only when something is drawn: with steps faster than the interval, the
    // line still redraws every interval instead of never.
    if (this.mode === 'tty') {
      if (force || now - this.lastDraw > 100) {
        this.stream.write(`\r${line}\x1b[K`);
        this.lastDraw = now;
      }
      return;
    } else if (this.mode === 'notebook') {
      if (force || now - this.lastDraw > 250) {
        this.live.set({ 'text/plain': line, 'text/html': `<pre style="margin:0">${line}</pre>` });
        this.lastDraw = now;
      }
      return;
    } else {
      const pct = Math.floor((p.step / Math.max(1, p.steps)) * 4) * 25;
      if ((force || pct !== this.lastLinePct) && line !== this.lastLine) {
        this.stream.write(line + '\n');
        this.lastLinePct = pct;
        this.lastLine = line;
      }
    }
    this.lastDraw = now;
  }

  /** Ends an epoch: keeps its final line visible. */
  endEpoch(p: ProgressState): void {
    this.update(p, true);
    if (this.mode === 'tty') this.stream.write('\n');
    this.lastLinePct = -1;
    if (this.mode === 'notebook') this.live = new LiveDisplay();
  }
}

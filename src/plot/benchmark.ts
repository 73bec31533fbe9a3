/** The benchmark's figures: bars per loss, overlaid ROC curves, and a contact sheet of the glyph set. */
import { Figure } from './show';
import { axis, colour, titled } from './style';
import type { GlyphDataset } from '../data/glyphs';
// Types only: the benchmark (a layer above) draws with these.
import type { BenchmarkRun } from '../benchmark/run';
import type { summarize } from '../benchmark/report';

/** Grouped bars (mean over seeds, error bar = std) for TAR @ FAR = 1e-4 and rank-1, per loss. */
export function benchmarkBars(
  sum: ReturnType<typeof summarize>,
  title = 'Unseen syllables: mean ± std over seeds',
): Figure {
  const metrics: Array<[string, string]> = [
    ['tar1e4', 'TAR @ FAR = 1e-4'],
    ['rank1', 'rank-1 identification'],
  ];
  return {
    data: metrics.map(([k, name], i) => ({
      type: 'bar',
      name,
      x: sum.map((r) => r.loss),
      y: sum.map((r) => (r.mean[k] === null ? null : 100 * (r.mean[k] as number))),
      error_y: { type: 'data', array: sum.map((r) => 100 * ((r.std[k] as number | null) ?? 0)), visible: true },
      marker: { color: colour(i) },
    })),
    layout: {
      title: titled(title),
      barmode: 'group',
      xaxis: axis('loss'),
      yaxis: axis('%', { range: [0, 100] }),
      height: 420,
    },
  };
}

/** ROC curves on a log-FAR axis, one per loss (the mean TAR over seeds at each FAR of the grid). */
export function benchmarkRocs(
  results: BenchmarkRun[],
  losses: string[],
  title = 'Verification ROC on unseen syllables (all pairs)',
): Figure {
  const data = losses
    .map((loss) => results.filter((r) => r.loss === loss))
    .filter((rs) => rs.length > 0)
    .map((rs, i) => {
      const far = rs[0].roc.far;
      const tar = far.map((_, j) => rs.reduce((a, r) => a + (r.roc.tar[j] ?? 0), 0) / rs.length);
      return {
        type: 'scatter',
        mode: 'lines',
        name: `${rs[0].loss} (${rs.length} seed${rs.length > 1 ? 's' : ''})`,
        x: far,
        y: tar,
        line: { color: colour(i), width: 2 },
      };
    });
  return {
    data,
    layout: {
      title: titled(title),
      xaxis: axis('false accept rate (FAR, log scale)', { type: 'log' }),
      yaxis: axis('true accept rate (TAR)', { range: [0, 1.02] }),
      height: 460,
    },
  };
}

/** A contact sheet: the first `syllables` classes (columns) in the first `faces` faces (rows). */
export function glyphContactSheet(
  ds: GlyphDataset,
  opts: { syllables?: number; faces?: number; title?: string } = {},
): Figure {
  const C = Math.min(opts.syllables ?? 12, ds.meta.syllables.length);
  const F = Math.min(opts.faces ?? 8, ds.meta.faces.length);
  const S = ds.shape[0];
  const at = new Map<number, number>();
  for (let i = 0; i < ds.y.length; i++) at.set(ds.y[i] * 100000 + ds.face[i], i);
  const z: number[][] = Array.from({ length: F * S }, () => new Array(C * S).fill(0));
  for (let c = 0; c < C; c++) {
    for (let f = 0; f < F; f++) {
      const i = at.get(c * 100000 + f);
      if (i === undefined) continue;
      for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) z[f * S + y][c * S + x] = ds.x[i * S * S + y * S + x];
    }
  }
  return {
    data: [{ type: 'heatmap', z, colorscale: 'Greys', reversescale: true, showscale: false, hoverinfo: 'skip' }],
    layout: {
      title: titled(opts.title ?? `${C} syllables (identities, columns) × ${F} font faces (capture conditions, rows)`),
      xaxis: {
        tickvals: Array.from({ length: C }, (_, c) => c * S + S / 2),
        ticktext: ds.meta.syllables.slice(0, C),
        showgrid: false,
      },
      yaxis: {
        tickvals: Array.from({ length: F }, (_, f) => f * S + S / 2),
        ticktext: ds.meta.faces.slice(0, F).map((f) => `${f.family} ${f.style}`),
        autorange: 'reversed',
        scaleanchor: 'x',
        showgrid: false,
      },
      height: 80 + F * 42,
      margin: { l: 190 },
    },
  };
}

/**
 * The budget study's figures: TAR @ FAR = 1e-4, rank-1 and the final training loss against the
 * training budget (epochs, log-2 axis), one line per loss. Cells without a finished run are gaps.
 */
export function convergenceFigures(
  rows: Array<{
    loss: string;
    epochs: number;
    runs: number;
    tar1e4: number | null;
    rank1: number | null;
    finalTrainLoss: number | null;
  }>,
): Figure[] {
  const losses = [...new Set(rows.map((r) => r.loss))];
  const budgets = [...new Set(rows.map((r) => r.epochs))].sort((a, b) => a - b);
  const series = (f: (r: (typeof rows)[number]) => number | null, scale: number) =>
    losses.map((loss, i) => ({
      type: 'scatter',
      mode: 'lines+markers',
      name: loss,
      x: budgets,
      y: budgets.map((b) => {
        const r = rows.find((x) => x.loss === loss && x.epochs === b);
        const v = r && r.runs > 0 ? f(r) : null;
        return v === null ? null : scale * v;
      }),
      line: { color: colour(i), width: 2 },
    }));
  const xaxis = axis('training budget (epochs, log scale)', {
    type: 'log',
    tickvals: budgets,
    ticktext: budgets.map(String),
  });
  const fig = (
    title: string,
    y: string,
    data: Array<Record<string, unknown>>,
    extra: Record<string, unknown> = {},
  ): Figure => ({
    data,
    layout: { title: titled(title), xaxis, yaxis: axis(y, extra), height: 420 },
  });
  return [
    fig(
      'TAR @ FAR = 1e-4 on unseen syllables by budget',
      'TAR@1e-4 (%)',
      series((r) => r.tar1e4, 100),
    ),
    fig(
      'Rank-1 identification on unseen syllables by budget',
      'rank-1 (%)',
      series((r) => r.rank1, 100),
    ),
    fig(
      'Final training loss by budget',
      'training loss (log scale)',
      series((r) => r.finalTrainLoss, 1),
      { type: 'log' },
    ),
  ];
}

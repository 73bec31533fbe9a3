/** Evaluation and training figures: ROC curves, pair-angle histograms, training curves, confusion matrix. */
import { RocCurve } from '../eval/metrics';
import { Figure } from './show';
import { axis, colour, titled } from './style';

export interface RocRun {
  name: string;
  roc: RocCurve;
}

/** TAR at a FAR read off a ROC (highest TAR with FAR ≤ far), or null if too few impostors. */
function tarAt(roc: RocCurve, far: number): number | null {
  if (roc.negatives * far < 1) return null;
  let best = 0;
  for (let i = 0; i < roc.far.length; i++) if (roc.far[i] <= far + 1e-12) best = Math.max(best, roc.tar[i]);
  return best;
}

/** ROC curves of several runs on a log-FAR axis, TAR @ FAR = 1e-3 marked on each. */
export function rocCurves(runs: RocRun[], opts: { title?: string; markFar?: number } = {}): Figure {
  if (runs.length === 0) throw new Error('rocCurves: no runs to draw');
  for (const r of runs) {
    if (!r.roc || r.roc.far.length < 2 || r.roc.far.length !== r.roc.tar.length)
      throw new Error(`rocCurves: run ${JSON.stringify(r.name)} has no ROC curve (use roc(scores, same))`);
    const bad = [...r.roc.far, ...r.roc.tar].findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`rocCurves: run ${JSON.stringify(r.name)} has a non-finite ROC point`);
  }
  const markFar = opts.markFar ?? 1e-3;
  const data: Array<Record<string, unknown>> = [];
  let minFar = 1;
  runs.forEach((r, k) => {
    // A log axis cannot show FAR = 0; those points are drawn at the smallest measurable FAR.
    const floor = 1 / Math.max(1, r.roc.negatives);
    minFar = Math.min(minFar, floor);
    data.push({
      type: 'scatter',
      mode: 'lines',
      name: r.name,
      x: r.roc.far.map((f) => Math.max(f, floor)),
      y: r.roc.tar,
      line: { color: colour(k), width: 2, shape: 'hv' },
    });
    const t = tarAt(r.roc, markFar);
    if (t !== null) {
      data.push({
        type: 'scatter',
        mode: 'markers+text',
        name: `${r.name}: TAR@${markFar.toExponential(0)} = ${(t * 100).toFixed(1)}%`,
        x: [markFar],
        y: [t],
        text: [`${(t * 100).toFixed(1)}%`],
        textposition: 'top left',
        marker: { color: colour(k), size: 10, symbol: 'diamond' },
        showlegend: true,
      });
    }
  });
  return {
    data,
    layout: {
      title: titled(opts.title ?? 'Verification ROC'),
      xaxis: axis('false accept rate (FAR, log scale)', { type: 'log', range: [Math.log10(minFar), 0] }),
      yaxis: axis('true accept rate (TAR)', { range: [0, 1.02] }),
      shapes: [
        { type: 'line', x0: markFar, x1: markFar, y0: 0, y1: 1, line: { color: '#999999', dash: 'dot', width: 1 } },
      ],
      height: 460,
      legend: { title: { text: 'run' } },
    },
  };
}

/** Histograms of genuine vs impostor pair angles (degrees), with the chosen threshold. */
export function pairAngleHistogram(
  hist: { edges: number[]; genuine: number[]; impostor: number[] },
  opts: { thresholdDegrees?: number; title?: string } = {},
): Figure {
  const mids = hist.edges.slice(0, -1).map((e, i) => (e + hist.edges[i + 1]) / 2);
  const width = hist.edges[1] - hist.edges[0];
  const layout: Record<string, unknown> = {
    title: titled(opts.title ?? 'Angles between pair embeddings'),
    barmode: 'overlay',
    bargap: 0,
    xaxis: axis('angle between the two embeddings (degrees)', { range: [0, 180], dtick: 30 }),
    yaxis: axis('pairs'),
    height: 420,
    legend: { title: { text: 'pairs' } },
  };
  if (opts.thresholdDegrees !== undefined) {
    layout.shapes = [
      {
        type: 'line',
        x0: opts.thresholdDegrees,
        x1: opts.thresholdDegrees,
        y0: 0,
        y1: 1,
        yref: 'paper',
        line: { color: '#000000', width: 2, dash: 'dash' },
      },
    ];
    layout.annotations = [
      {
        x: opts.thresholdDegrees,
        y: 1,
        yref: 'paper',
        text: `threshold ${opts.thresholdDegrees.toFixed(1)}°`,
        showarrow: false,
        xanchor: 'left',
        yanchor: 'bottom',
      },
    ];
  }
  return {
    data: [
      {
        type: 'bar',
        name: 'same identity (genuine)',
        x: mids,
        y: hist.genuine,
        width,
        opacity: 0.65,
        marker: { color: colour(0) },
      },
      {
        type: 'bar',
        name: 'different identity (impostor)',
        x: mids,
        y: hist.impostor,
        width,
        opacity: 0.65,
        marker: { color: colour(5) },
      },
    ],
    layout,
  };
}

/** Loss (left axis) and accuracy (right axis) per epoch from the trainer's history. */
export function trainingCurves(
  history: Array<{ epoch: number; loss: number; accuracy?: number }>,
  opts: { title?: string } = {},
): Figure {
  if (history.length === 0) throw new Error('trainingCurves: the history is empty (train for at least one epoch)');
  const epochs = history.map((h) => h.epoch);
  const data: Array<Record<string, unknown>> = [
    {
      type: 'scatter',
      mode: 'lines+markers',
      name: 'loss',
      x: epochs,
      y: history.map((h) => h.loss),
      line: { color: colour(0) },
    },
  ];
  const acc = history.map((h) => (h.accuracy === undefined || Number.isNaN(h.accuracy) ? null : h.accuracy * 100));
  if (acc.some((a) => a !== null))
    data.push({
      type: 'scatter',
      mode: 'lines+markers',
      name: 'batch accuracy',
      x: epochs,
      y: acc,
      yaxis: 'y2',
      line: { color: colour(1), dash: 'dash' },
    });
  return {
    data,
    layout: {
      title: titled(opts.title ?? 'Training'),
      xaxis: axis('epoch', { dtick: 1 }),
      yaxis: axis('loss'),
      yaxis2: axis('accuracy (%)', { overlaying: 'y', side: 'right', range: [0, 100] }),
      height: 380,
      legend: { x: 0.5, xanchor: 'center', y: -0.25, orientation: 'h' },
    },
  };
}

/** Confusion matrix heatmap (rows: true class, columns: predicted), row-normalized with counts shown. */
export function confusionMatrix(
  trueLabels: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classNames: string[],
  opts: { title?: string } = {},
): Figure {
  if (!Array.isArray(classNames) || classNames.length === 0)
    throw new Error(`confusionMatrix: classNames must be a non-empty list of names, got ${JSON.stringify(classNames)}`);
  if (trueLabels.length !== predicted.length)
    throw new Error(`confusionMatrix: ${trueLabels.length} labels but ${predicted.length} predictions`);
  if (trueLabels.length === 0) throw new Error('confusionMatrix: no samples (empty labels and predictions)');
  const C = classNames.length;
  const counts = Array.from({ length: C }, () => new Array(C).fill(0));
  for (let i = 0; i < trueLabels.length; i++) {
    const t = trueLabels[i];
    const p = predicted[i];
    if (!Number.isInteger(t) || !Number.isInteger(p) || t < 0 || t >= C || p < 0 || p >= C)
      throw new Error(`confusionMatrix: label ${t} / prediction ${p} at ${i} is outside 0..${C - 1}`);
    counts[t][p]++;
  }
  const rates = counts.map((row) => {
    const s = row.reduce((a, b) => a + b, 0);
    return row.map((v) => (s ? v / s : 0));
  });
  return {
    data: [
      {
        type: 'heatmap',
        z: rates,
        x: classNames,
        y: classNames,
        text: counts.map((r) => r.map(String)),
        texttemplate: '%{text}',
        colorscale: 'Viridis',
        zmin: 0,
        zmax: 1,
        colorbar: { title: { text: 'fraction of row' } },
        hovertemplate: 'true %{y}<br>predicted %{x}<br>%{text} images<extra></extra>',
      },
    ],
    layout: {
      title: titled(opts.title ?? 'Closed-set identification: confusion matrix'),
      xaxis: axis('predicted class', { side: 'bottom' }),
      yaxis: axis('true class', { autorange: 'reversed', scaleanchor: 'x', scaleratio: 1 }),
      height: 520,
      width: 600,
    },
  };
}

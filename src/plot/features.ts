/**
 * Feature-geometry figures: raw 2-D features, normalized features on the unit circle with class
 * weight rays, normalized 3-D features on a translucent sphere, and per-class angle histograms.
 */
import { Figure } from './show';
import { axis, className, colour, DEG, titled } from './style';
import { maxOf } from '../util/reduce';

export type Points = ArrayLike<number>[] | { data: ArrayLike<number>; dim: number };

/** Rows of an embedding matrix as arrays, from number[][] or a flat array with its dimension. */
export function rowsOf(points: Points): number[][] {
  if (Array.isArray(points)) return points.map((r) => Array.from(r));
  const p = points as { data: ArrayLike<number>; dim: number };
  const n = p.data.length / p.dim;
  return Array.from({ length: n }, (_, i) => Array.from({ length: p.dim }, (_, k) => p.data[i * p.dim + k]));
}

function unitRows(rows: number[][]): number[][] {
  return rows.map((r) => {
    const n = Math.sqrt(r.reduce((s, v) => s + v * v, 0));
    return n > 0 ? r.map((v) => v / n) : r.map(() => 0);
  });
}

/** Class weight directions from W [D][C] (as stored by the heads). */
export function weightDirections(W: ArrayLike<number>[] | undefined, numClasses: number): number[][] | undefined {
  if (!W) return undefined;
  const D = W.length;
  return unitRows(Array.from({ length: numClasses }, (_, j) => Array.from({ length: D }, (_, d) => W[d][j])));
}

function checkDim(rows: number[][], dim: number, what: string, labels?: ArrayLike<number>): void {
  if (rows.length === 0) throw new Error(`${what}: no points to draw (an empty embedding set)`);
  if (labels && labels.length !== rows.length)
    throw new Error(`${what}: ${rows.length} points but ${labels.length} labels`);
  rows.forEach((r, i) => {
    if (r.length !== dim) throw new Error(`${what}: point ${i} has dimension ${r.length}, expected ${dim}`);
    const bad = r.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0)
      throw new Error(`${what}: point ${i} has ${r[bad]} in coordinate ${bad} (NaN embeddings from a diverged model?)`);
  });
}

function groups(labels: ArrayLike<number>): number[] {
  return [...new Set(Array.from(labels))].sort((a, b) => a - b);
}

export interface FeatureOptions {
  classNames?: string[];
  /** Class weights W [D][C]; drawn as rays / arrows. */
  weights?: ArrayLike<number>[];
  title?: string;
  /** Marker size (default 4). */
  size?: number;
}

/** 2-D features as they come out of the network (Euclidean view), coloured by class. */
export function featuresEuclidean2d(points: Points, labels: ArrayLike<number>, opts: FeatureOptions = {}): Figure {
  const rows = rowsOf(points);
  checkDim(rows, 2, 'featuresEuclidean2d', labels);
  const data = groups(labels).map((c) => {
    const pts = rows.filter((_, i) => labels[i] === c);
    return {
      type: 'scatter',
      mode: 'markers',
      name: className(opts.classNames, c),
      x: pts.map((p) => p[0]),
      y: pts.map((p) => p[1]),
      marker: { size: opts.size ?? 4, color: colour(c), opacity: 0.7 },
    };
  });
  return {
    data,
    layout: {
      title: titled(opts.title ?? 'Features (Euclidean view)'),
      xaxis: axis('feature 1'),
      yaxis: axis('feature 2', { scaleanchor: 'x', scaleratio: 1 }),
      height: 480,
      legend: { title: { text: 'class' }, itemsizing: 'constant' }, // legend markers legible whatever the point size
    },
  };
}

/** Normalized 2-D features on the unit circle, with each class's weight direction as a ray. */
export function featuresOnCircle(points: Points, labels: ArrayLike<number>, opts: FeatureOptions = {}): Figure {
  const raw = rowsOf(points);
  checkDim(raw, 2, 'featuresOnCircle', labels);
  const rows = unitRows(raw);
  const cls = groups(labels);
  const circle = Array.from({ length: 181 }, (_, i) => (2 * Math.PI * i) / 180);
  const data: Array<Record<string, unknown>> = [
    {
      type: 'scatter',
      mode: 'lines',
      name: 'unit circle',
      x: circle.map(Math.cos),
      y: circle.map(Math.sin),
      line: { color: '#bbbbbb', width: 1 },
      hoverinfo: 'skip',
      showlegend: false,
    },
  ];
  cls.forEach((c) => {
    const pts = rows.filter((_, i) => labels[i] === c);
    data.push({
      type: 'scatter',
      mode: 'markers',
      name: className(opts.classNames, c),
      legendgroup: `c${c}`,
      x: pts.map((p) => p[0]),
      y: pts.map((p) => p[1]),
      marker: { size: opts.size ?? 5, color: colour(c), opacity: 0.6 },
    });
  });
  const dirs = weightDirections(opts.weights, maxOf(cls) + 1);
  if (dirs) {
    cls.forEach((c) => {
      data.push({
        type: 'scatter',
        mode: 'lines',
        name: `W of ${className(opts.classNames, c)}`,
        legendgroup: `c${c}`,
        showlegend: false,
        x: [0, 1.15 * dirs[c][0]],
        y: [0, 1.15 * dirs[c][1]],
        line: { color: colour(c), width: 3 },
      });
    });
  }
  return {
    data,
    layout: {
      title: titled(opts.title ?? 'Normalized features on the unit circle (rays: class weights W_j)'),
      xaxis: axis('x̂₁', { range: [-1.25, 1.25] }),
      yaxis: axis('x̂₂', { range: [-1.25, 1.25], scaleanchor: 'x', scaleratio: 1 }),
      height: 520,
      width: 600,
      legend: { title: { text: 'class' }, itemsizing: 'constant' }, // legend markers legible whatever the point size
    },
  };
}

/** Normalized 3-D features on a translucent unit sphere, class weights as arrows (rotatable). */
export function featuresOnSphere(points: Points, labels: ArrayLike<number>, opts: FeatureOptions = {}): Figure {
  const raw = rowsOf(points);
  checkDim(raw, 3, 'featuresOnSphere', labels);
  const rows = unitRows(raw);
  const cls = groups(labels);
  const nU = 30;
  const nV = 15;
  const sx: number[][] = [];
  const sy: number[][] = [];
  const sz: number[][] = [];
  for (let i = 0; i <= nV; i++) {
    const v = (Math.PI * i) / nV;
    sx.push([]);
    sy.push([]);
    sz.push([]);
    for (let j = 0; j <= nU; j++) {
      const u = (2 * Math.PI * j) / nU;
      sx[i].push(Math.sin(v) * Math.cos(u));
      sy[i].push(Math.sin(v) * Math.sin(u));
      sz[i].push(Math.cos(v));
    }
  }
  const data: Array<Record<string, unknown>> = [
    {
      type: 'surface',
      x: sx,
      y: sy,
      z: sz,
      opacity: 0.15,
      showscale: false,
      colorscale: [
        [0, '#cccccc'],
        [1, '#cccccc'],
      ],
      hoverinfo: 'skip',
      name: 'unit sphere',
    },
  ];
  cls.forEach((c) => {
    const pts = rows.filter((_, i) => labels[i] === c);
    data.push({
      type: 'scatter3d',
      mode: 'markers',
      name: className(opts.classNames, c),
      legendgroup: `c${c}`,
      x: pts.map((p) => p[0]),
      y: pts.map((p) => p[1]),
      z: pts.map((p) => p[2]),
      marker: { size: opts.size ?? 2.5, color: colour(c), opacity: 0.8 },
    });
  });
  const dirs = weightDirections(opts.weights, maxOf(cls) + 1);
  if (dirs) {
    cls.forEach((c) => {
      const d = dirs[c];
      data.push({
        type: 'scatter3d',
        mode: 'lines',
        legendgroup: `c${c}`,
        showlegend: false,
        name: `W of ${className(opts.classNames, c)}`,
        x: [0, 1.2 * d[0]],
        y: [0, 1.2 * d[1]],
        z: [0, 1.2 * d[2]],
        line: { color: colour(c), width: 6 },
      });
      data.push({
        type: 'cone',
        showscale: false,
        showlegend: false,
        colorscale: [
          [0, colour(c)],
          [1, colour(c)],
        ],
        x: [1.2 * d[0]],
        y: [1.2 * d[1]],
        z: [1.2 * d[2]],
        u: [d[0]],
        v: [d[1]],
        w: [d[2]],
        sizemode: 'absolute',
        sizeref: 0.15,
        anchor: 'tail',
        name: `W of ${className(opts.classNames, c)}`,
      });
    });
  }
  return {
    data,
    layout: {
      title: titled(opts.title ?? 'Normalized 3-D features on the unit sphere (arrows: class weights)'),
      scene: {
        aspectmode: 'cube',
        xaxis: axis('x̂₁', { range: [-1.3, 1.3] }),
        yaxis: axis('x̂₂', { range: [-1.3, 1.3] }),
        zaxis: axis('x̂₃', { range: [-1.3, 1.3] }),
      },
      height: 560,
      legend: { title: { text: 'class' }, itemsizing: 'constant' }, // legend markers legible whatever the point size
    },
  };
}

/** Per-class histograms of the angle (degrees) between each feature and its class weight. */
export function angleHistogram(
  points: Points,
  labels: ArrayLike<number>,
  weights: ArrayLike<number>[],
  opts: FeatureOptions & { binDegrees?: number } = {},
): Figure {
  const raw = rowsOf(points);
  if (raw.length === 0) throw new Error('angleHistogram: no points');
  if (raw.length !== labels.length) throw new Error(`angleHistogram: ${raw.length} points but ${labels.length} labels`);
  if (!weights || weights.length === 0) throw new Error('angleHistogram: no class weights');
  const cls = groups(labels);
  const dirs = weightDirections(weights, maxOf(cls) + 1)!;
  checkDim(raw, dirs[0].length, 'angleHistogram', labels);
  const rows = unitRows(raw);
  const data = cls.map((c) => {
    const angles = rows
      .filter((_, i) => labels[i] === c)
      .map(
        (r) =>
          Math.acos(
            Math.max(
              -1,
              Math.min(
                1,
                r.reduce((s, v, k) => s + v * dirs[c][k], 0),
              ),
            ),
          ) * DEG,
      );
    return {
      type: 'histogram',
      name: className(opts.classNames, c),
      x: angles,
      opacity: 0.6,
      marker: { color: colour(c) },
      xbins: { start: 0, end: 180, size: opts.binDegrees ?? 5 },
    };
  });
  return {
    data,
    layout: {
      title: titled(opts.title ?? 'Angle between each feature and its class weight'),
      barmode: 'overlay',
      xaxis: axis('θ_y (degrees)', { range: [0, 180] }),
      yaxis: axis('count'),
      height: 420,
      legend: { title: { text: 'class' }, itemsizing: 'constant' }, // legend markers legible whatever the point size
    },
  };
}

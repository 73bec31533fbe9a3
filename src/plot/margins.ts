/**
 * Margin geometry computed from the loss code itself: every curve comes from a head's
 * `targetCurve(θ)` — the target entry in cos space, f(θ) — not from a formula re-typed here.
 *
 * Two classes, an embedding at angles θ1, θ2 to their weights. Class 1 wins when its target
 * logit beats class 2's plain one: f(θ1) > cos θ2. So the class-1 boundary is f(θ1) = cos θ2
 * and the class-2 boundary f(θ2) = cos θ1; between them lies the margin, where neither class is
 * confident enough. Without a margin (f = cos) both boundaries coincide.
 */
import { Figure } from './show';
import { CurricularFace } from '../losses/curricularface';
import { axis, colour, DEG, titled } from './style';

/** Anything with a target curve: every CosineHead, or a plain function. */
export interface MarginCurve {
  name: string;
  /** Target entry in cos space at each θ (radians). */
  target: (theta: number[]) => number[];
}

/** Wraps a head (anything with `targetCurve`) as a MarginCurve. */
export function curveOf(name: string, head: { targetCurve(theta: ArrayLike<number>): number[] }): MarginCurve {
  return { name, target: (t) => head.targetCurve(t) };
}

/** The no-margin reference: f(θ) = cos θ (softmax with equal weight norms, NormFace). */
export const noMargin: MarginCurve = { name: 'Softmax / NormFace', target: (t) => t.map(Math.cos) };

function grid(n: number, hi = Math.PI): number[] {
  return Array.from({ length: n }, (_, i) => (hi * i) / (n - 1));
}

export interface Boundary {
  /** Class-1 boundary: points where f(θ1) = cos θ2. */
  class1: { theta1: number[]; theta2: number[]; cos1: number[]; cos2: number[] };
  /** Class-2 boundary (mirror image): f(θ2) = cos θ1. */
  class2: { theta1: number[]; theta2: number[]; cos1: number[]; cos2: number[] };
}

/** Boundary points from the curve, where f(θ) is a valid cosine (in [−1, 1]). */
export function boundaryPoints(curve: MarginCurve, n = 361): Boundary {
  const th = grid(n);
  const f = curve.target(th);
  const t1: number[] = [];
  const t2: number[] = [];
  const c1: number[] = [];
  const c2: number[] = [];
  th.forEach((theta, i) => {
    if (f[i] < -1 || f[i] > 1 || !Number.isFinite(f[i])) return;
    t1.push(theta);
    t2.push(Math.acos(f[i]));
    c1.push(Math.cos(theta));
    c2.push(f[i]);
  });
  return {
    class1: { theta1: t1, theta2: t2, cos1: c1, cos2: c2 },
    class2: { theta1: t2, theta2: t1, cos1: c2, cos2: c1 },
  };
}

/**
 * Where neither class wins, on an n × n grid of the plane: z[i][j] = 1 where, with θ1 from x[j]
 * and θ2 from y[i], f(θ1) ≤ cos θ2 (class 1 does not win) and f(θ2) ≤ cos θ1 (class 2 does not),
 * else null. Computed point by point, so the region is exact up to the grid: where one boundary
 * stops (f below −1: that class never wins there) the region runs to the edge of the plane
 * instead of being closed by a chord.
 */
export function noWinRegion(
  curve: MarginCurve,
  plane: 'cos' | 'theta',
  n = 181,
): { x: number[]; y: number[]; z: (number | null)[][] } {
  const axisValues =
    plane === 'cos'
      ? Array.from({ length: n }, (_, i) => -1 + (2 * i) / (n - 1))
      : Array.from({ length: n }, (_, i) => (180 * i) / (n - 1));
  const theta = plane === 'cos' ? axisValues.map((c) => Math.acos(c)) : axisValues.map((d) => d / DEG);
  const f = curve.target(theta);
  const cos = theta.map(Math.cos);
  const z = theta.map((_, i) => theta.map((__, j) => (f[j] <= cos[i] && f[i] <= cos[j] ? 1 : null)));
  return { x: axisValues, y: axisValues, z };
}

const MARGIN_FILL = 'rgba(153,153,153,0.45)';

/** The no-win region as a heatmap trace (one colour, no scale). */
function regionTrace(r: ReturnType<typeof noWinRegion>, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'heatmap',
    x: r.x,
    y: r.y,
    z: r.z,
    colorscale: [
      [0, MARGIN_FILL],
      [1, MARGIN_FILL],
    ],
    showscale: false,
    hoverinfo: 'skip',
    name: 'no class wins',
    ...extra,
  };
}

export interface BoundaryPlotOptions {
  /** 'cos' for the (cos θ1, cos θ2) plane, 'theta' for the (θ1, θ2) plane in degrees. */
  plane?: 'cos' | 'theta';
  title?: string;
}

/** Decision boundaries and margin regions of several losses, side by side in one plane. */
export function decisionBoundaries(curves: MarginCurve[], opts: BoundaryPlotOptions = {}): Figure {
  const plane = opts.plane ?? 'cos';
  const data: Array<Record<string, unknown>> = [];
  const n = curves.length;
  curves.forEach((curve, k) => {
    const b = boundaryPoints(curve);
    const xa = k === 0 ? 'x' : `x${k + 1}`;
    const ya = k === 0 ? 'y' : `y${k + 1}`;
    const pick = (side: Boundary['class1']) =>
      plane === 'cos'
        ? { x: side.cos1, y: side.cos2 }
        : { x: side.theta1.map((v) => v * DEG), y: side.theta2.map((v) => v * DEG) };
    const one = pick(b.class1);
    const two = pick(b.class2);
    // Margin region: every point of the plane where neither class wins.
    data.push(regionTrace(noWinRegion(curve, plane), { xaxis: xa, yaxis: ya }));
    data.push({
      type: 'scatter',
      mode: 'lines',
      name: 'class 1 boundary',
      showlegend: k === 0,
      legendgroup: 'b1',
      x: one.x,
      y: one.y,
      line: { color: colour(0), width: 2.5 },
      xaxis: xa,
      yaxis: ya,
    });
    data.push({
      type: 'scatter',
      mode: 'lines',
      name: 'class 2 boundary',
      showlegend: k === 0,
      legendgroup: 'b2',
      x: two.x,
      y: two.y,
      line: { color: colour(1), width: 2.5, dash: 'dash' },
      xaxis: xa,
      yaxis: ya,
    });
  });
  const layout: Record<string, unknown> = {
    title: titled(
      opts.title ??
        (plane === 'cos'
          ? 'Decision boundaries in the (cos θ1, cos θ2) plane'
          : 'Decision boundaries in the (θ1, θ2) plane'),
    ),
    grid: { rows: 1, columns: n, pattern: 'independent' },
    height: 380,
    width: Math.max(420, 300 * n),
    annotations: [
      ...curves.map((c, k) => ({
        text: c.name,
        showarrow: false,
        xref: `${k === 0 ? 'x' : `x${k + 1}`} domain`,
        yref: `${k === 0 ? 'y' : `y${k + 1}`} domain`,
        x: 0.5,
        y: 1.08,
        font: { size: 13 },
      })),
      {
        text: 'shaded: no class wins (the margin)',
        showarrow: false,
        xref: 'paper',
        yref: 'paper',
        x: 0,
        y: -0.22,
        xanchor: 'left',
        font: { size: 11, color: '#555555' },
      },
    ],
  };
  curves.forEach((_, k) => {
    const sfx = k === 0 ? '' : String(k + 1);
    const xr = plane === 'cos' ? [-1, 1] : [0, 180];
    // Both axes constrained to their domain: with only x constrained, keeping the 1:1 aspect
    // stretched the θ2 range past 180° (and cos θ2 past ±1).
    const ticks = plane === 'cos' ? {} : { dtick: 30 };
    layout[`xaxis${sfx}`] = axis(plane === 'cos' ? 'cos θ1' : 'θ1 (degrees)', {
      range: xr,
      constrain: 'domain',
      ...ticks,
    });
    layout[`yaxis${sfx}`] = axis(plane === 'cos' ? 'cos θ2' : 'θ2 (degrees)', {
      range: xr,
      constrain: 'domain',
      scaleanchor: `x${sfx}`,
      scaleratio: 1,
      ...ticks,
    });
  });
  return { data, layout };
}

/** Target logit (cos space) vs θ for several losses, with cos θ for reference. */
export function targetLogitCurves(
  curves: MarginCurve[],
  opts: { title?: string; curricularT?: number[] } = {},
): Figure {
  const th = grid(361);
  const data: Array<Record<string, unknown>> = [
    {
      type: 'scatter',
      mode: 'lines',
      name: 'cos θ (no margin)',
      x: th.map((t) => t * DEG),
      y: th.map(Math.cos),
      line: { color: '#999999', dash: 'dot' },
    },
  ];
  curves.forEach((c, k) =>
    data.push({
      type: 'scatter',
      mode: 'lines',
      name: c.name,
      x: th.map((t) => t * DEG),
      y: c.target(th),
      line: { color: colour(k), width: 2 },
    }),
  );
  (opts.curricularT ?? []).forEach((t, k) => {
    data.push({
      type: 'scatter',
      mode: 'lines',
      name: `CurricularFace hard negative, t = ${t}`,
      x: th.map((v) => v * DEG),
      y: th.map((v) => CurricularFace.modulation(Math.cos(v), t)),
      line: { color: colour(curves.length + k), dash: 'dash' },
    });
  });
  return {
    data,
    layout: {
      title: titled(opts.title ?? 'Target logit / s as a function of the angle θ'),
      xaxis: axis('θ (degrees)', { range: [0, 180], dtick: 30 }),
      yaxis: axis('logit / s'),
      height: 450,
      legend: { title: { text: 'loss' } },
    },
  };
}

export interface ExplorerLoss {
  name: string;
  /** Margin values for the slider. */
  margins: number[];
  /** The loss's curve at margin m (build a head with that m). */
  curveAt: (m: number) => MarginCurve;
}

/**
 * An interactive margin explorer: a dropdown picks the loss, a slider its margin m, and the
 * decision boundaries in the (θ1, θ2) plane move. Everything is precomputed into the figure
 * (restyle steps), so it works without a kernel, in exported HTML too.
 */
export function marginExplorer(losses: ExplorerLoss[], opts: { title?: string; initial?: number } = {}): Figure {
  if (!Array.isArray(losses) || losses.length === 0) throw new Error('marginExplorer: no losses to explore');
  for (const l of losses) {
    if (!Array.isArray(l.margins) || l.margins.length === 0)
      throw new Error(`marginExplorer: ${JSON.stringify(l.name)} has no margins to slide over`);
    const bad = l.margins.find((m) => typeof m !== 'number' || !Number.isFinite(m));
    if (bad !== undefined)
      throw new Error(`marginExplorer: ${JSON.stringify(l.name)} has margin ${bad}; margins must be finite numbers`);
  }
  if (opts.initial !== undefined && !(Number.isInteger(opts.initial) && opts.initial >= 0))
    throw new Error(`marginExplorer: initial must be an integer index ≥ 0, got ${opts.initial}`);
  const data: Array<Record<string, unknown>> = [];
  const tracesOf: number[][] = [];
  const series = losses.map((l) => l.margins.map((m) => boundaryPoints(l.curveAt(m), 181)));
  const regions = losses.map((l) => l.margins.map((m) => noWinRegion(l.curveAt(m), 'theta', 121)));
  const toDeg = (v: number[]) => v.map((x) => x * DEG);
  losses.forEach((l, li) => {
    const k0 = Math.min(opts.initial ?? Math.floor(l.margins.length / 2), l.margins.length - 1);
    const b = series[li][k0];
    const idx = data.length;
    tracesOf.push([idx, idx + 1, idx + 2]);
    const vis = li === 0;
    data.push(regionTrace(regions[li][k0], { visible: vis }));
    data.push({
      type: 'scatter',
      mode: 'lines',
      name: 'class 1 boundary',
      visible: vis,
      x: toDeg(b.class1.theta1),
      y: toDeg(b.class1.theta2),
      line: { color: colour(0), width: 2.5 },
    });
    data.push({
      type: 'scatter',
      mode: 'lines',
      name: 'class 2 boundary',
      visible: vis,
      x: toDeg(b.class2.theta1),
      y: toDeg(b.class2.theta2),
      line: { color: colour(1), width: 2.5, dash: 'dash' },
    });
  });
  const sliderFor = (li: number) => ({
    active: Math.min(opts.initial ?? Math.floor(losses[li].margins.length / 2), losses[li].margins.length - 1),
    currentvalue: { prefix: `${losses[li].name}: m = ` },
    pad: { t: 50 },
    steps: losses[li].margins.map((m, k) => {
      const b = series[li][k];
      return {
        label: Number.isInteger(m) ? String(m) : m.toFixed(2),
        method: 'restyle',
        args: [
          {
            x: [regions[li][k].x, toDeg(b.class1.theta1), toDeg(b.class2.theta1)],
            y: [regions[li][k].y, toDeg(b.class1.theta2), toDeg(b.class2.theta2)],
            z: [regions[li][k].z, null, null],
          },
          tracesOf[li],
        ],
      };
    }),
  });
  const total = data.length;
  return {
    data,
    layout: {
      title: titled(opts.title ?? 'Margin explorer: pick a loss, slide its margin'),
      xaxis: axis('θ1 (degrees)', { range: [0, 180], dtick: 30 }),
      yaxis: axis('θ2 (degrees)', { range: [0, 180], dtick: 30, scaleanchor: 'x', scaleratio: 1 }),
      height: 620,
      width: 620,
      sliders: [sliderFor(0)],
      updatemenus: [
        {
          type: 'dropdown',
          x: 1.0,
          xanchor: 'right',
          y: 1.12,
          yanchor: 'top',
          active: 0,
          buttons: losses.map((l, li) => ({
            label: l.name,
            method: 'update',
            args: [
              { visible: Array.from({ length: total }, (_, t) => tracesOf[li].includes(t)) },
              { sliders: [sliderFor(li)] },
            ],
          })),
        },
      ],
    },
  };
}

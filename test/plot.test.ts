/** Figure builders checked against known geometry, in Node (no browser). */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ml from 'margin-lab';
import { rng } from './helpers/numeric';

before(async () => {
  await ml.useBestBackend({ print: false });
});

type Trace = Record<string, unknown> & { x?: number[]; y?: number[]; z?: number[]; name?: string; type?: string };

function randomPoints(n: number, d: number, seed: number): { pts: number[][]; labels: number[] } {
  const r = rng(seed);
  return {
    pts: Array.from({ length: n }, () => Array.from({ length: d }, () => 4 * r() - 2)),
    labels: Array.from({ length: n }, (_, i) => i % 3),
  };
}

const W2 = [
  [1, -0.5, -0.5],
  [0, 0.8, -0.8],
];
const W3 = [
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
];

test('normalized feature views put every point on the unit circle / sphere, with equal aspect', () => {
  const { pts, labels } = randomPoints(60, 2, 1);
  const circle = ml.featuresOnCircle(pts, labels, { weights: W2, classNames: ['a', 'b', 'c'] });
  const classTraces = (circle.data as Trace[]).filter((t) => t.mode === 'markers');
  assert.deepEqual(
    classTraces.map((t) => t.name),
    ['a', 'b', 'c'],
  );
  for (const t of classTraces) t.x!.forEach((x, i) => assert.ok(Math.abs(Math.hypot(x, t.y![i]) - 1) < 1e-12));
  const rays = (circle.data as Trace[]).filter((t) => String(t.name).startsWith('W of'));
  assert.equal(rays.length, 3);
  rays.forEach((r, c) => {
    const n = Math.hypot(W2[0][c], W2[1][c]);
    assert.ok(
      Math.abs(r.x![1] / 1.15 - W2[0][c] / n) < 1e-12 && Math.abs(r.y![1] / 1.15 - W2[1][c] / n) < 1e-12,
      'ray along W_c',
    );
  });
  assert.equal((circle.layout!.yaxis as Record<string, unknown>).scaleanchor, 'x');
  const raw = ml.featuresEuclidean2d(pts, labels);
  assert.deepEqual(
    (raw.data[0] as Trace).x,
    pts.filter((_, i) => labels[i] === 0).map((p) => p[0]),
  );
  assert.equal((raw.layout!.yaxis as Record<string, unknown>).scaleanchor, 'x');

  const p3 = randomPoints(45, 3, 2);
  const sphere = ml.featuresOnSphere(p3.pts, p3.labels, { weights: W3 });
  for (const t of (sphere.data as Trace[]).filter((t) => t.type === 'scatter3d' && t.mode === 'markers')) {
    t.x!.forEach((x, i) => assert.ok(Math.abs(Math.hypot(x, t.y![i], t.z![i]) - 1) < 1e-12));
  }
  assert.equal((sphere.layout!.scene as Record<string, unknown>).aspectmode, 'cube');
  // Legend markers at a fixed, legible size, not the points' 2.5 px.
  assert.equal((sphere.layout!.legend as Record<string, unknown>).itemsizing, 'constant');
  assert.ok(
    (sphere.data as Trace[]).some((t) => t.type === 'surface' && (t.opacity as number) < 0.5),
    'translucent sphere',
  );
  assert.throws(() => ml.featuresOnSphere(pts, labels), /point 0 has dimension 2, expected 3/);
});

test('angle histogram: angles to the class weight in degrees', () => {
  const pts = [
    [1, 0],
    [0, 1],
    [-1, 0],
  ];
  const fig = ml.angleHistogram(pts, [0, 0, 0], [[1], [0]]);
  assert.deepEqual(
    (fig.data[0] as Trace).x!.map((v) => Math.round(v)),
    [0, 90, 180],
  );
  assert.match(JSON.stringify(fig.layout!.xaxis), /degrees/);
});

test("decision boundary points satisfy each loss's boundary equation to 1e-6", () => {
  const heads: Array<[string, ml.CosineHead]> = [
    ['SphereFace m=4', ml.sphereFace({ numClasses: 2, embeddingDim: 2, lambda: 0 })],
    ['CosFace m=0.35', ml.cosFace({ numClasses: 2, embeddingDim: 2 })],
    ['ArcFace m=0.5', ml.arcFace({ numClasses: 2, embeddingDim: 2 })],
    ['Combined (1,0.3,0.2)', ml.combinedMargin({ numClasses: 2, embeddingDim: 2 })],
  ];
  const curves = [ml.noMargin, ...heads.map(([n, h]) => ml.curveOf(n, h))];
  for (const c of curves) {
    const b = ml.boundaryPoints(c);
    assert.ok(b.class1.theta1.length > 50, c.name);
    // class 1: f(θ1) = cos θ2, using the loss's own target (not the plotted values)
    const f1 = c.target(b.class1.theta1);
    b.class1.theta2.forEach((t2, i) => assert.ok(Math.abs(f1[i] - Math.cos(t2)) < 1e-6, `${c.name} class 1 at ${i}`));
    const f2 = c.target(b.class2.theta2);
    b.class2.theta1.forEach((t1, i) => assert.ok(Math.abs(f2[i] - Math.cos(t1)) < 1e-6, `${c.name} class 2 at ${i}`));
    b.class1.cos1.forEach((x, i) => assert.ok(Math.abs(x - Math.cos(b.class1.theta1[i])) < 1e-12));
  }
  // Without a margin both boundaries are the diagonal θ1 = θ2.
  const nm = ml.boundaryPoints(ml.noMargin);
  nm.class1.theta1.forEach((t, i) => assert.ok(Math.abs(t - nm.class1.theta2[i]) < 1e-6));
  // CosFace in the cos plane is the line cos θ2 = cos θ1 − m.
  const cf = ml.boundaryPoints(curves[2]);
  cf.class1.cos1.forEach((x, i) => assert.ok(Math.abs(cf.class1.cos2[i] - (x - 0.35)) < 1e-6));
  for (const plane of ['cos', 'theta'] as const) {
    const fig = ml.decisionBoundaries(curves, { plane });
    assert.equal(fig.data.length, 3 * curves.length);
    assert.match(JSON.stringify(fig.layout), plane === 'cos' ? /cos θ1/ : /θ1 \(degrees\)/);
  }
  heads.forEach(([, h]) => h.dispose());
});

test('target-logit curves come from the heads; CurricularFace modulation at several t', () => {
  const arc = ml.arcFace({ numClasses: 2, embeddingDim: 2, m: 0.5 });
  const fig = ml.targetLogitCurves([ml.curveOf('ArcFace', arc)], { curricularT: [0, 0.5] });
  const t = fig.data[1] as Trace;
  const i = 60; // θ = 30°
  assert.ok(Math.abs(t.y![i] - Math.cos(Math.PI / 6 + 0.5)) < 1e-6);
  const cur = fig.data[3] as Trace;
  assert.ok(Math.abs(cur.y![i] - Math.cos(Math.PI / 6) * (0.5 + Math.cos(Math.PI / 6))) < 1e-12);
  arc.dispose();
});

test("margin explorer: one slider step per margin, each restyling its own loss's traces", () => {
  const fig = ml.marginExplorer([
    {
      name: 'ArcFace',
      margins: [0, 0.25, 0.5],
      curveAt: (m) => ml.curveOf('a', ml.arcFace({ numClasses: 2, embeddingDim: 2, m })),
    },
    {
      name: 'CosFace',
      margins: [0, 0.2],
      curveAt: (m) => ml.curveOf('c', ml.cosFace({ numClasses: 2, embeddingDim: 2, m })),
    },
  ]);
  const sliders = fig.layout!.sliders as Array<{ steps: Array<{ args: [Record<string, number[][]>, number[]] }> }>;
  assert.equal(sliders[0].steps.length, 3);
  assert.deepEqual(sliders[0].steps[2].args[1], [0, 1, 2]);
  // Step for m = 0.5 moves the class-1 boundary to θ2 = θ1 + m (in degrees) where valid.
  const x = sliders[0].steps[2].args[0].x[1];
  const y = sliders[0].steps[2].args[0].y[1];
  const k = 10;
  assert.ok(Math.abs(y[k] - (x[k] + (0.5 * 180) / Math.PI)) < 1e-3);
  const menus = fig.layout!.updatemenus as Array<{ buttons: Array<{ args: [{ visible: boolean[] }, unknown] }> }>;
  assert.deepEqual(menus[0].buttons[1].args[0].visible, [false, false, false, true, true, true]);
});

test('metric figures: ROC on a log axis, monotone, ending at (1, 1); histograms; training curves; confusion matrix', () => {
  const r = rng(3);
  const same = Array.from({ length: 500 }, () => (r() < 0.5 ? 1 : 0));
  const scores = same.map((s) => s * 0.4 + r());
  const roc = ml.roc(scores, same);
  const fig = ml.rocCurves([{ name: 'run', roc }]);
  const line = fig.data[0] as Trace;
  for (let i = 1; i < line.x!.length; i++) assert.ok(line.x![i] >= line.x![i - 1] && line.y![i] >= line.y![i - 1]);
  assert.equal(line.x![line.x!.length - 1], 1);
  assert.equal(line.y![line.y!.length - 1], 1);
  assert.equal((fig.layout!.xaxis as Record<string, unknown>).type, 'log');
  assert.equal(fig.data.length, 1, 'TAR@1e-3 needs ≥ 1000 impostor pairs: no marker with 250');
  const hist = ml.pairAngleHistograms(
    scores.map((s) => Math.cos(s)),
    same,
    10,
  );
  const h = ml.pairAngleHistogram(hist, { thresholdDegrees: 40 });
  assert.equal(
    (h.data[0] as Trace).y!.reduce((a, b) => a + b, 0),
    same.filter(Boolean).length,
  );
  const tc = ml.trainingCurves([
    { epoch: 1, loss: 2, accuracy: 0.5 },
    { epoch: 2, loss: 1, accuracy: 0.7 },
  ]);
  assert.deepEqual((tc.data[1] as Trace).y, [50, 70]);
  const cm = ml.confusionMatrix([0, 0, 1, 1], [0, 1, 1, 1], ['a', 'b']);
  assert.deepEqual((cm.data[0] as { z: number[][] }).z, [
    [0.5, 0.5],
    [0, 1],
  ]);
  assert.throws(() => ml.confusionMatrix([0, 2], [0, 0], ['a', 'b']), /label 2 \/ prediction 0 at 1 is outside 0..1/);
});

test('saveImage writes PNG and SVG through Chromium, and says clearly when Chromium is missing', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-img-'));
  const fig = ml.targetLogitCurves([ml.noMargin]);
  const saved = process.env.CHROMIUM_PATH;
  process.env.CHROMIUM_PATH = path.join(dir, 'no-chromium');
  await assert.rejects(
    ml.saveImage(fig, path.join(dir, 'x.png')),
    /saveImage needs Chromium, which was not found \(CHROMIUM_PATH=.*no-chromium does not exist\)/,
  );
  if (saved === undefined) delete process.env.CHROMIUM_PATH;
  else process.env.CHROMIUM_PATH = saved;
  await assert.rejects(ml.saveImage(fig, path.join(dir, 'x.gif')), /must end in .png or .svg/);
  const png = await ml.saveImage(fig, path.join(dir, 'x.png'), { width: 400, height: 300, scale: 1 });
  const bytes = fs.readFileSync(png);
  assert.deepEqual(Array.from(bytes.subarray(0, 4)), [0x89, 0x50, 0x4e, 0x47]);
  assert.equal(bytes.readUInt32BE(16), 400);
  const svg = fs.readFileSync(await ml.saveImage(fig, path.join(dir, 'x.svg')), 'utf8');
  assert.match(svg, /^<svg[\s\S]*Target logit/);
});

test('the no-win region is exact: the CosFace band in the cos plane, and the corner a chord would cut off', () => {
  const cos = ml.cosFace({ numClasses: 2, embeddingDim: 2, m: 0.35 });
  const curve = ml.curveOf('CosFace', cos);
  const c = ml.noWinRegion(curve, 'cos', 101);
  // In the cos plane CosFace's region is the band |cos θ1 − cos θ2| ≤ m (grid points only).
  c.z.forEach((row, i) =>
    row.forEach((v, j) => {
      const d = Math.abs(c.x[j] - c.y[i]);
      if (Math.abs(d - 0.35) > 1e-9) assert.equal(v === 1, d < 0.35, `cos plane at (${c.x[j]}, ${c.y[i]})`);
    }),
  );
  // Past θ = acos(m − 1) ≈ 130.5° class 1 never wins (f < −1); near (175°, 178°) neither class
  // does, although that point lies beyond the chord joining the two boundaries' ends.
  const t = ml.noWinRegion(curve, 'theta', 181);
  assert.equal(t.z[178][175], 1);
  assert.equal(t.z[178][175 - 100], null); // θ1 = 75°, θ2 = 178°: class 1 wins
  const fig = ml.decisionBoundaries([curve], { plane: 'theta' });
  assert.equal((fig.data[0] as { type: string }).type, 'heatmap');
  // Both θ axes stop at 180°: the 1:1 aspect is kept by shrinking the domain, not the range.
  for (const ax of ['xaxis', 'yaxis']) {
    const a = fig.layout![ax] as { range: number[]; constrain?: string };
    assert.deepEqual(a.range, [0, 180], ax);
    assert.equal(a.constrain, 'domain', ax);
  }
  cos.dispose();
});

test('plots refuse empty and NaN input with errors that say so, not TypeErrors', () => {
  assert.throws(() => ml.confusionMatrix([], [], ['a', 'b']), /confusionMatrix: no samples/);
  assert.throws(
    () => ml.confusionMatrix([0, 1], [0, 1], []),
    /confusionMatrix: classNames must be a non-empty list of names/,
  );
  assert.throws(
    () => ml.confusionMatrix([0, Number.NaN], [0, 1], ['a', 'b']),
    /confusionMatrix: label NaN \/ prediction 1 at 1 is outside 0\.\.1/,
  );
  assert.throws(
    () =>
      ml.angleHistogram(
        [],
        [],
        [
          [1, 0],
          [0, 1],
        ],
      ),
    /angleHistogram: no points/,
  );
  assert.throws(
    () =>
      ml.angleHistogram(
        [[1, 0]],
        [0, 1],
        [
          [1, 0],
          [0, 1],
        ],
      ),
    /angleHistogram: 1 points but 2 labels/,
  );
  assert.throws(
    () =>
      ml.angleHistogram(
        [[Number.NaN, 0]],
        [0],
        [
          [1, 0],
          [0, 1],
        ],
      ),
    /angleHistogram: point 0 has NaN/,
  );
  assert.throws(() => ml.marginExplorer([]), /marginExplorer: no losses to explore/);
  const arc = (m: number) => ml.curveOf('ArcFace', ml.arcFace({ numClasses: 2, embeddingDim: 2, m }));
  assert.throws(
    () => ml.marginExplorer([{ name: 'ArcFace', margins: [], curveAt: arc }]),
    /"ArcFace" has no margins to slide over/,
  );
  assert.throws(
    () => ml.marginExplorer([{ name: 'ArcFace', margins: [0.2, Number.NaN], curveAt: arc }]),
    /"ArcFace" has margin NaN; margins must be finite numbers/,
  );
  assert.throws(
    () => ml.marginExplorer([{ name: 'ArcFace', margins: [0.2], curveAt: arc }], { initial: -1 }),
    /initial must be an integer index ≥ 0, got -1/,
  );
  assert.ok(ml.marginExplorer([{ name: 'ArcFace', margins: [0.2, 0.5], curveAt: arc }]).data.length > 0);
});

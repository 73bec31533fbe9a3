/**
 * Every loss against the float64 references in test/reference: values, gradients (w.r.t.
 * embeddings and W) against central finite differences of the reference, edge cases, bad
 * input, monotonic targets, running-state updates and tensor bookkeeping.
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as L from 'margin-lab';
import { tf, useBestBackend } from 'margin-lab';
import { marginCrossEntropy, safeAcos, softmaxCrossEntropy, targetEntries } from 'margin-lab/dist/losses/ops';
import * as R from './reference/losses64';
import { relError } from './helpers/numeric';
import {
  Mat,
  randMat,
  randLabels,
  flat,
  headCases,
  shapes,
  refForGradient,
  pairCases,
  CENTER_D,
  REFERENCED_ELSEWHERE,
} from './helpers/loss-cases';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT } from './helpers/paths';

before(async () => {
  await useBestBackend({ print: false });
});

interface Measured {
  loss: number;
  gx: number[];
  gW?: number[];
}

/** Loss and gradients of a library loss in eval mode (running state held fixed). */
function measure(loss: L.EmbeddingLoss, x: Mat, labels: number[]): Measured {
  return tf.tidy(() => {
    const xt = tf.tensor2d(x);
    const value = loss.compute(xt, labels, { training: false }).dataSync()[0];
    const gx = Array.from(
      tf
        .grad((xx: tf.Tensor) => loss.compute(xx as tf.Tensor2D, labels, { training: false }))(xt)
        .dataSync(),
    );
    const head = loss as Partial<L.ClassifierHead>;
    let gW: number[] | undefined;
    if (head.W) {
      const { grads } = tf.variableGrads(() => loss.compute(xt, labels, { training: false }), [head.W]);
      gW = Array.from(grads[head.W.name].dataSync());
    }
    return { loss: value, gx, gW };
  });
}

function allFinite(xs: ArrayLike<number>): boolean {
  for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i])) return false;
  return true;
}

for (const c of headCases) {
  test(`${c.name}: value and gradients match the float64 reference`, () => {
    shapes.forEach(([N, D, C], si) => {
      const seed = 1000 * si + c.name.length;
      const x = randMat(N, D, seed, c.scale ?? 1);
      const W = randMat(D, C * (c.K ?? 1), seed + 1);
      const y = randLabels(N, C, seed + 2);
      const loss = c.make(W, C, D);
      const got = measure(loss, x, y);
      loss.dispose();
      const want = c.ref(x, W, y);
      const fref = refForGradient(c, x);
      const gx = R.fdGrad((xx) => fref(xx, W, y), x);
      const gW = R.fdGrad((ww) => fref(x, ww, y), W);
      const at = `[N=${N}, D=${D}, C=${C}]`;
      assert.ok(
        Math.abs(got.loss - want) <= 1e-4 * Math.max(1, Math.abs(want)),
        `${at} loss ${got.loss} vs reference ${want}`,
      );
      assert.ok(relError(got.gx, flat(gx)) <= 1e-4, `${at} d/dx relative error ${relError(got.gx, flat(gx))}`);
      assert.ok(relError(got.gW!, flat(gW)) <= 1e-4, `${at} d/dW relative error ${relError(got.gW!, flat(gW))}`);
    });
  });
}

test('marginCrossEntropy and targetEntries: the values and gradients of the logits built in full and softmaxCrossEntropy', () => {
  // Rows with large scaled gaps, a target far below the rest and a target far above it.
  for (const [n, c, s, seed] of [
    [5, 7, 1, 1],
    [16, 40, 64, 2],
    [3, 1000, 64, 3],
  ]) {
    tf.tidy(() => {
      const others = tf.tensor2d(randMat(n, c, seed), [n, c]);
      const targetY = tf.tensor1d(randMat(1, n, seed + 1)[0].map((v, i) => (i === 0 ? -3 : i === 1 ? 3 : v)));
      const labels = randLabels(n, c, seed + 2);
      const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), c).toFloat() as tf.Tensor2D;
      const full = (o: tf.Tensor2D, t: tf.Tensor1D) =>
        softmaxCrossEntropy(
          tf.mul(tf.add(tf.mul(o, tf.sub(1, oneHot)), tf.mul(oneHot, tf.expandDims(t, 1))), s) as tf.Tensor2D,
          oneHot,
        );
      const fused = (o: tf.Tensor2D, t: tf.Tensor1D) => marginCrossEntropy(o, t, oneHot, s);
      const a = fused(others, targetY).dataSync()[0];
      const b = full(others, targetY).dataSync()[0];
      assert.ok(Number.isFinite(a) && Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `s=${s}: ${a} vs ${b}`);
      const ga = tf.grads((o, t) => fused(o as tf.Tensor2D, t as tf.Tensor1D))([others, targetY]);
      const gb = tf.grads((o, t) => full(o as tf.Tensor2D, t as tf.Tensor1D))([others, targetY]);
      for (let k = 0; k < 2; k++) {
        const e = relError(ga[k].dataSync(), gb[k].dataSync());
        assert.ok(e <= 1e-5, `s=${s}, gradient ${k === 0 ? 'others' : 'targetY'}: relative error ${e}`);
      }
      // The target entries of others get no gradient: their logit is replaced by the target's.
      const g0 = ga[0].arraySync() as number[][];
      labels.forEach((y, i) => assert.equal(g0[i][y], 0));
      // targetEntries: the picked entries, and oneHot · dy as gradient.
      const picked = targetEntries(others, oneHot).arraySync();
      const o2 = others.arraySync();
      assert.deepEqual(
        picked,
        labels.map((y, i) => o2[i][y]),
      );
      const w = tf.tensor1d(Array.from({ length: n }, (_, i) => i + 1));
      const gt = tf
        .grad((o) => tf.sum(tf.mul(targetEntries(o as tf.Tensor2D, oneHot), w)))(others)
        .arraySync() as number[][];
      gt.forEach((row, i) => row.forEach((v, j) => assert.equal(v, j === labels[i] ? i + 1 : 0)));
    });
  }
});

test('running state does not absorb a non-finite batch: CurricularFace t, AdaFace norm statistics and the centers stay as they were, and later clean batches are finite', () => {
  const clean = tf.tensor2d(randMat(6, 4, 5));
  const labels = [0, 1, 2, 0, 1, 2];
  for (const bad of [NaN, Infinity]) {
    const poisoned = tf.tidy(() => {
      const rows = clean.arraySync() as number[][];
      rows[2][1] = bad;
      return tf.tensor2d(rows);
    });
    const losses: Array<[string, L.EmbeddingLoss, () => number[]]> = [];
    const cf = L.curricularFace({ numClasses: 3, embeddingDim: 4, s: 8 });
    losses.push(['curricularface t', cf, () => [cf.t]]);
    const ada = L.adaFace({ numClasses: 3, embeddingDim: 4, s: 8 });
    const sd = ada.stateDict();
    const adaState = () =>
      Object.entries(sd)
        .filter(([k]) => k !== 'W')
        .flatMap(([, v]) => Array.from(v.dataSync()));
    losses.push(['adaface norm statistics', ada, adaState]);
    const sc = L.softmaxCenterLoss({ numClasses: 3, embeddingDim: 4 });
    const centers = () =>
      Object.entries(sc.stateDict())
        .filter(([k]) => /center/i.test(k))
        .flatMap(([, v]) => Array.from(v.dataSync()));
    losses.push(['softmax+center centers', sc, centers]);
    for (const [what, loss, state] of losses) {
      tf.tidy(() => loss.compute(clean, labels, { training: true }));
      const before = state();
      assert.ok(before.length > 0 && before.every(Number.isFinite), `${what}: no state to check`);
      tf.tidy(() => loss.compute(poisoned, labels, { training: true }).dataSync());
      assert.deepEqual(state(), before, `${what} absorbed a ${bad} batch`);
      for (let k = 0; k < 3; k++) {
        const after = tf.tidy(() => loss.compute(clean, labels, { training: true }).dataSync()[0]);
        assert.ok(Number.isFinite(after), `${what}: a clean batch after the ${bad} one gives ${after}`);
      }
      loss.dispose();
    }
    poisoned.dispose();
  }
  clean.dispose();
});

test('embeddings of any finite scale: the cosine losses give the same loss at 1e-30, 1 and 1e30 (gradients scaled by 1/scale), SphereFace stays finite at 1e30, and the raw-Euclidean losses refuse a magnitude that overflows, naming it', () => {
  const base = randMat(8, 6, 77);
  const labels = [0, 0, 1, 1, 2, 2, 3, 3];
  const at = (scale: number) => base.map((r) => r.map((v) => v * scale));
  const cosineLosses: Array<[string, () => L.EmbeddingLoss]> = [
    ['normface', () => L.normFace({ numClasses: 4, embeddingDim: 6, seed: 3 })],
    ['cosface', () => L.cosFace({ numClasses: 4, embeddingDim: 6, seed: 3 })],
    ['arcface', () => L.arcFace({ numClasses: 4, embeddingDim: 6, seed: 3 })],
    ['curricularface', () => L.curricularFace({ numClasses: 4, embeddingDim: 6, seed: 3 })],
    ['subcenter-arcface', () => L.subCenterArcFace({ numClasses: 4, embeddingDim: 6, seed: 3 })],
    ['triplet', () => L.tripletLoss({ margin: 0.3 })],
    ['contrastive (cosine)', () => L.contrastiveLoss({ distance: 'cosine' })],
  ];
  for (const [name, make] of cosineLosses) {
    const loss = make();
    const one = measure(loss, at(1), labels);
    for (const scale of [1e-30, 1e30]) {
      const got = measure(loss, at(scale), labels);
      assert.ok(
        Math.abs(got.loss - one.loss) <= 1e-5 * Math.max(1, one.loss),
        `${name} at ${scale}: ${got.loss} vs ${one.loss}`,
      );
      const rescaled = got.gx.map((g) => g * scale);
      assert.ok(
        allFinite(got.gx) && relError(rescaled, one.gx) <= 1e-4,
        `${name} at ${scale}: gradient not 1/scale of scale 1's`,
      );
    }
    loss.dispose();
  }
  // SphereFace's logits are ‖x‖·ψ(θ): at 1e30 they are 1e30 times scale 1's, finite, and so is the gradient.
  const sf = L.sphereFace({ numClasses: 4, embeddingDim: 6, seed: 3 });
  const huge = measure(sf, at(1e30), labels);
  assert.ok(Number.isFinite(huge.loss) && huge.loss > 1e28 && allFinite(huge.gx), `sphereface at 1e30: ${huge.loss}`);
  sf.dispose();
  // ½D² at 1e30 is ~1e60: not a float32. Refused with the magnitude and the limit.
  const dim = 6;
  const limit = Math.sqrt(3.4028234663852886e38 / (4 * dim));
  assert.throws(
    () => measure(L.contrastiveLoss(), at(1e30), labels),
    (e: Error) =>
      /^contrastive: the embeddings reach \|x\| = [0-9.]+e\+(29|30), past ([0-9.]+e\+18) .*for D = 6\), where squared Euclidean distances overflow float32; .*normalize: true/.test(
        e.message,
      ) && Math.abs(Number(/past ([0-9.e+]+)/.exec(e.message)![1]) / limit - 1) < 1e-2,
  );
  const x = tf.tensor2d(at(1e30));
  assert.throws(
    () => L.contrastiveLoss().computePairs(x, x, [0, 0, 0, 0, 1, 1, 1, 1]),
    /LossInputError: contrastive: the embeddings reach/,
  );
  x.dispose();
  // Just under the limit it computes, finitely.
  const below = measure(L.contrastiveLoss(), at(1e17), labels);
  assert.ok(Number.isFinite(below.loss) && allFinite(below.gx), `contrastive at 1e17: ${below.loss}`);
});

test('softmaxLoss (with bias): value and gradients match the float64 reference', () => {
  for (const [N, D, C] of shapes) {
    const x = randMat(N, D, N, 2);
    const W = randMat(D, C, N + 1);
    const b = randMat(1, C, N + 2)[0];
    const y = randLabels(N, C, N + 3);
    const loss = L.softmaxLoss({ numClasses: C, embeddingDim: D, weights: W, bias: b });
    const got = measure(loss, x, y);
    loss.dispose();
    const want = R.softmaxRef(x, W, b, y);
    assert.ok(Math.abs(got.loss - want) <= 1e-4 * Math.max(1, want));
    assert.ok(relError(got.gx, flat(R.fdGrad((xx) => R.softmaxRef(xx, W, b, y), x))) <= 1e-4);
    assert.ok(relError(got.gW!, flat(R.fdGrad((ww) => R.softmaxRef(x, ww, b, y), W))) <= 1e-4);
  }
});

for (const c of pairCases) {
  test(`${c.name}: value and gradient match the float64 reference`, () => {
    for (const [N, seed] of [
      [8, 1],
      [12, 2],
      [20, 3],
    ] as const) {
      const D = CENTER_D;
      const x = randMat(N, D, 50 + seed, c.scale ?? 1);
      // Labels with repeats (P×K-like) so that every miner finds triplets.
      const y = Array.from({ length: N }, (_, i) => i % 4);
      const loss = c.make();
      const got = measure(loss, x, y);
      const want = c.ref(x, y);
      const gx = R.fdGrad((xx) => c.ref(xx, y), x);
      assert.ok(
        Math.abs(got.loss - want) <= 1e-4 * Math.max(1, Math.abs(want)),
        `N=${N}: loss ${got.loss} vs reference ${want}`,
      );
      assert.ok(relError(got.gx, flat(gx)) <= 1e-4, `N=${N}: d/dx relative error ${relError(got.gx, flat(gx))}`);
      loss.dispose();
    }
  });
}

test('triplet miners report how many triplets were mined and active', () => {
  const x = randMat(12, 4, 9);
  const y = Array.from({ length: 12 }, (_, i) => i % 3);
  for (const miner of ['batchAll', 'batchHard', 'semiHard'] as const) {
    const loss = L.tripletLoss({ miner, margin: 0.5 });
    tf.tidy(() => loss.compute(tf.tensor2d(x), y));
    const ref = R.tripletRef(x, y, 0.5, miner, 'mean-active');
    assert.deepEqual(loss.lastStats, { mined: ref.mined, active: ref.active }, miner);
    assert.ok(ref.mined > 0, `${miner} mined nothing: the test data is too easy`);
  }
});

test('presets of combinedMargin equal their dedicated losses', () => {
  const [N, D, C] = [10, 4, 6];
  const x = randMat(N, D, 5);
  const W = randMat(D, C, 6);
  const y = randLabels(N, C, 7);
  const pairs: Array<[L.ClassifierHead, L.ClassifierHead]> = [
    [
      L.combinedMargin({ numClasses: C, embeddingDim: D, weights: W, s: 30, ...L.marginPresets.arcFace(0.5) }),
      L.arcFace({ numClasses: C, embeddingDim: D, weights: W, s: 30, m: 0.5 }),
    ],
    [
      L.combinedMargin({ numClasses: C, embeddingDim: D, weights: W, s: 30, ...L.marginPresets.cosFace(0.35) }),
      L.cosFace({ numClasses: C, embeddingDim: D, weights: W, s: 30, m: 0.35 }),
    ],
    [
      L.combinedMargin({ numClasses: C, embeddingDim: D, weights: W, s: 30, ...L.marginPresets.sphereFace(4) }),
      L.sphereFace({ numClasses: C, embeddingDim: D, weights: W, normalized: true, s: 30, lambda: 0 }),
    ],
  ];
  for (const [preset, dedicated] of pairs) {
    const a = tf.tidy(() => preset.logits(tf.tensor2d(x), y).dataSync());
    const b = tf.tidy(() => dedicated.logits(tf.tensor2d(x), y).dataSync());
    assert.ok(relError(a, b) <= 1e-6, `${dedicated.name}: preset logits differ (${relError(a, b)})`);
    const la = tf.tidy(() => preset.compute(tf.tensor2d(x), y).dataSync()[0]);
    const lb = tf.tidy(() => dedicated.compute(tf.tensor2d(x), y).dataSync()[0]);
    assert.ok(Math.abs(la - lb) <= 1e-6 * Math.max(1, lb), `${dedicated.name}: preset loss ${la} vs ${lb}`);
    preset.dispose();
    dedicated.dispose();
  }
});

// ---- edge cases ----

/** Rotates the unit vector of class column j by angle theta inside the plane of axes 0 and 1. */
function atAngle(W: Mat, j: number, theta: number, length = 2): number[] {
  const w = R.unit(R.column(W, j));
  // A unit vector orthogonal to w (Gram-Schmidt on e0 or e1).
  const e = w.map((_, k) => (k === (Math.abs(w[0]) < 0.9 ? 0 : 1) ? 1 : 0));
  const proj = R.dot(e, w);
  const o = R.unit(e.map((v, k) => v - proj * w[k]));
  return w.map((wk, k) => length * (Math.cos(theta) * wk + Math.sin(theta) * o[k]));
}

const edgeHeads: Array<{
  name: string;
  make: (W: Mat, C: number, D: number) => L.ClassifierHead;
  ref: (x: Mat, W: Mat, y: number[]) => number;
}> = [
  {
    name: 'normFace',
    make: (W, C, D) => L.normFace({ numClasses: C, embeddingDim: D, weights: W }),
    ref: (x, W, y) => R.normFaceRef(x, W, y, 16),
  },
  {
    name: 'cosFace',
    make: (W, C, D) => L.cosFace({ numClasses: C, embeddingDim: D, weights: W }),
    ref: (x, W, y) => R.cosFaceRef(x, W, y, 64, 0.35),
  },
  {
    name: 'arcFace',
    make: (W, C, D) => L.arcFace({ numClasses: C, embeddingDim: D, weights: W }),
    ref: (x, W, y) => R.arcFaceRef(x, W, y, 64, 0.5),
  },
  {
    name: 'arcFace easy',
    make: (W, C, D) => L.arcFace({ numClasses: C, embeddingDim: D, weights: W, easyMargin: true }),
    ref: (x, W, y) => R.arcFaceRef(x, W, y, 64, 0.5, true),
  },
  {
    name: 'sphereFace (‖x‖)',
    make: (W, C, D) => L.sphereFace({ numClasses: C, embeddingDim: D, weights: W, lambda: 5 }),
    ref: (x, W, y) => R.sphereFaceRef(x, W, y, 4, 5, false),
  },
  {
    name: 'sphereFace normalized',
    make: (W, C, D) => L.sphereFace({ numClasses: C, embeddingDim: D, weights: W, normalized: true, lambda: 0 }),
    ref: (x, W, y) => R.sphereFaceRef(x, W, y, 4, 0, true),
  },
  {
    name: 'combined (0.9,0.4,0.15)',
    make: (W, C, D) => L.combinedMargin({ numClasses: C, embeddingDim: D, weights: W, m1: 0.9, m2: 0.4, m3: 0.15 }),
    ref: (x, W, y) => R.combinedRef(x, W, y, 64, 0.9, 0.4, 0.15),
  },
  {
    name: 'combined (1.5,0.2,0.1)',
    make: (W, C, D) => L.combinedMargin({ numClasses: C, embeddingDim: D, weights: W, m1: 1.5, m2: 0.2, m3: 0.1 }),
    ref: (x, W, y) => R.combinedRef(x, W, y, 64, 1.5, 0.2, 0.1),
  },
  {
    name: 'curricularFace',
    make: (W, C, D) => L.curricularFace({ numClasses: C, embeddingDim: D, weights: W, t: 0.2 }),
    ref: (x, W, y) => R.curricularRef(x, W, y, 64, 0.5, 0.2, false).loss,
  },
  {
    name: 'adaFace',
    make: (W, C, D) => L.adaFace({ numClasses: C, embeddingDim: D, weights: W, initialMean: 2, initialStd: 1 }),
    ref: (x, W, y) =>
      R.adaFaceRef(x, W, y, { s: 64, m: 0.4, h: 0.333, alpha: 0.01, mean: 2, std: 1, training: false }).loss,
  },
];

test("edge cases: θ = 0, θ = π, θ + m > π, zero norm, one class, duplicates — finite, and equal to the formulas' limits", () => {
  const [D, C] = [4, 3];
  const W = randMat(D, C, 31);
  // Axis-aligned classes 0 and 1, so that cos θ is exactly ±1 in float32 too.
  for (let d = 0; d < D; d++) {
    W[d][0] = d === 0 ? 1.5 : 0;
    W[d][1] = d === 1 ? 0.7 : 0;
  }
  const batches: Array<{ what: string; x: Mat; y: number[] }> = [
    {
      what: 'cos θ_y exactly 1',
      x: [
        [2, 0, 0, 0],
        [0, 0.25, 0, 0],
      ],
      y: [0, 1],
    },
    {
      what: 'cos θ_y exactly −1',
      x: [
        [-2, 0, 0, 0],
        [0, -3, 0, 0],
      ],
      y: [0, 1],
    },
    { what: 'θ_y = 0 (embedding on its class weight)', x: [atAngle(W, 0, 0), atAngle(W, 1, 0, 0.5)], y: [0, 1] },
    { what: 'θ_y = π (opposite its class weight)', x: [atAngle(W, 0, Math.PI), atAngle(W, 2, Math.PI, 3)], y: [0, 2] },
    { what: 'θ_y + m > π', x: [atAngle(W, 0, Math.PI - 0.2), atAngle(W, 1, Math.PI - 0.05)], y: [0, 1] },
    { what: 'zero-norm embedding', x: [[0, 0, 0, 0], atAngle(W, 1, 0.7)], y: [0, 1] },
    { what: 'a batch of one class', x: [atAngle(W, 2, 0.3), atAngle(W, 2, 1.1), atAngle(W, 2, 2.5)], y: [2, 2, 2] },
    { what: 'duplicate samples', x: [atAngle(W, 1, 0.4), atAngle(W, 1, 0.4), atAngle(W, 1, 0.4)], y: [1, 1, 0] },
  ];
  for (const h of edgeHeads) {
    for (const b of batches) {
      const loss = h.make(W, C, D);
      const got = measure(loss, b.x, b.y);
      loss.dispose();
      const want = h.ref(b.x, W, b.y);
      const where = `${h.name}, ${b.what}`;
      assert.ok(Number.isFinite(got.loss), `${where}: loss ${got.loss}`);
      assert.ok(allFinite(got.gx), `${where}: d/dx not finite: ${got.gx}`);
      assert.ok(allFinite(got.gW!), `${where}: d/dW not finite`);
      // float32 cosines carry ~6e-8 of rounding, which near |cos θ| = 1 moves θ by up to 3e-4
      // rad; scaled by s = 64 that bounds the loss error at a few 1e-3.
      assert.ok(
        Math.abs(got.loss - want) <= 5e-3 * Math.max(1, Math.abs(want)),
        `${where}: loss ${got.loss}, formula's limit ${want}`,
      );
    }
  }
});

test('edge cases for pair losses: duplicates and one class stay finite', () => {
  const dup = [
    [0.3, 0.4, 0],
    [0.3, 0.4, 0],
    [0, 1, 0],
    [0, 1, 0],
  ];
  for (const loss of [
    L.contrastiveLoss(),
    L.contrastiveLoss({ distance: 'cosine' }),
    L.tripletLoss({ miner: 'batchAll' }),
    L.tripletLoss({ miner: 'batchHard' }),
  ]) {
    for (const y of [
      [0, 0, 1, 1],
      [0, 1, 0, 1],
    ]) {
      const got = measure(loss, dup, y);
      assert.ok(
        Number.isFinite(got.loss) && allFinite(got.gx),
        `${loss.name} ${JSON.stringify(loss.config())} labels ${y}: ${got.loss} ${got.gx}`,
      );
    }
  }
  // Identical embeddings of different identities cost ½·m² (a negative-only pair, given
  // explicitly: a batch without any positive pair is refused by compute()).
  const c = L.contrastiveLoss();
  const half = c.computePairs(tf.tensor2d([[1, 2]]), tf.tensor2d([[1, 2]]), [1]);
  assert.ok(Math.abs(half.dataSync()[0] - 0.5) < 1e-6, 'identical embeddings of different identities cost ½·m²');
  const oneClass = measure(
    L.contrastiveLoss(),
    [
      [1, 0],
      [0, 1],
      [1, 1],
    ],
    [3, 3, 3],
  );
  assert.ok(
    Math.abs(
      oneClass.loss -
        R.contrastiveRef(
          [
            [1, 0],
            [0, 1],
            [1, 1],
          ],
          [3, 3, 3],
          1,
          'euclidean',
          false,
        ),
    ) < 1e-5,
  );
});

// ---- bad input ----

test('bad input throws a clear error naming the argument', () => {
  const mk = () => L.arcFace({ numClasses: 3, embeddingDim: 2 });
  const x = tf.tensor2d([
    [1, 0],
    [0, 1],
  ]);
  const head = mk();
  assert.throws(() => head.compute(x, [0, 3]), /arcface: labels\[1\] = 3 is out of range \[0, 3\)/);
  assert.throws(() => head.compute(x, [0, -1]), /labels\[1\] = -1 is out of range/);
  assert.throws(() => head.compute(x, [0, 1.5]), /labels\[1\] = 1.5 is not an integer/);
  assert.throws(() => head.compute(x, tf.tensor1d([0, 0.5])), /labels\[1\] = 0.5 is not an integer/);
  assert.throws(() => head.compute(x, [0]), /labels has 1 entries but embeddings has 2 rows/);
  assert.throws(
    () => head.compute(tf.tensor2d([[1, 0, 0]]), [0]),
    /embeddings have dimension 3 but the head was built for embeddingDim = 2/,
  );
  assert.throws(
    () => head.compute(tf.tensor1d([1, 0]) as unknown as tf.Tensor2D, [0]),
    /embeddings must have shape \[N, D\], got shape \[2\]/,
  );
  assert.throws(() => L.arcFace({ numClasses: 3, embeddingDim: 2, s: 0 }), /arcface: s must be a number > 0, got 0/);
  assert.throws(() => L.cosFace({ numClasses: 3, embeddingDim: 2, s: -1 }), /cosface: s must be a number > 0, got -1/);
  assert.throws(
    () => L.cosFace({ numClasses: 3, embeddingDim: 2, m: -0.1 }),
    /cosface: m must be a number in \[0, 2\), got -0.1 \(a cosine margin of 2 or more/,
  );
  assert.throws(
    () => L.arcFace({ numClasses: 3, embeddingDim: 2, m: -0.1 }),
    /arcface: m must be a number in \[0, π\/2\), got -0.1/,
  );
  assert.throws(
    () => L.arcFace({ numClasses: 3, embeddingDim: 2, m: Math.PI / 2 }),
    /arcface: m must be a number in \[0, π\/2\), got 1.57/,
  );
  assert.throws(
    () => L.sphereFace({ numClasses: 3, embeddingDim: 2, m: 2.5 }),
    /sphereface: m must be an integer in \[1, 8\], got 2.5 \(the paper uses 4\)/,
  );
  assert.throws(
    () => L.sphereFace({ numClasses: 3, embeddingDim: 2, m: 0 }),
    /sphereface: m must be an integer in \[1, 8\]/,
  );
  assert.throws(
    () => L.sphereFace({ numClasses: 3, embeddingDim: 2, m: 9 }),
    /sphereface: m must be an integer in \[1, 8\]/,
  );
  assert.throws(
    () => L.adaFace({ numClasses: 3, embeddingDim: 2, h: 5 }),
    /adaface: h must be a number in \(0, 1\], got 5/,
  );
  assert.throws(
    () => L.combinedMargin({ numClasses: 3, embeddingDim: 2, m3: 3 }),
    /combined: m3 must be a number in \[0, 2\], got 3/,
  );
  assert.throws(
    () => L.subCenterArcFace({ numClasses: 3, embeddingDim: 2, K: 65 }),
    /subcenter-arcface: K must be an integer in \[1, 64\], got 65 \(the paper uses 3\)/,
  );
  assert.throws(
    () => L.combinedMargin({ numClasses: 3, embeddingDim: 2, m3: -0.2 }),
    /combined: m3 must be a number in \[0, 2\], got -0.2/,
  );
  assert.throws(
    () => L.curricularFace({ numClasses: 3, embeddingDim: 2, m: 2 }),
    /curricularface: m must be a number in \[0, π\/2\)/,
  );
  assert.throws(() => L.normFace({ numClasses: 0, embeddingDim: 2 }), /numClasses must be a positive integer, got 0/);
  assert.throws(
    () =>
      L.arcFace({
        numClasses: 3,
        embeddingDim: 2,
        weights: [
          [1, 2],
          [3, 4],
        ],
      }),
    /weights must have shape \[2, 3\]/,
  );
  assert.throws(() => L.tripletLoss().compute(x, [0, 1]), /triplet: the batch has no positive pair/);
  assert.throws(() => L.tripletLoss().compute(x, [1, 1]), /triplet: the batch has a single class \(label 1\)/);
  assert.throws(() => L.tripletLoss({ margin: 0 }), /triplet: margin must be a number > 0, got 0/);
  assert.throws(
    () => L.tripletLoss({ miner: 'hardest' as L.MinerName }),
    /triplet: miner must be one of batchAll, batchHard, semiHard, or a function, got "hardest"/,
  );
  assert.throws(() => L.contrastiveLoss().compute(tf.tensor2d([[1, 0]]), [0]), /at least 2 embeddings/);
  assert.throws(
    () => L.contrastiveLoss().computePairs(x, x, [0, 2]),
    /pair label y\[1\] = 2 must be 0 \(same identity\) or 1/,
  );
  assert.throws(
    () => L.contrastiveLoss({ distance: 'manhattan' as L.PairDistance }),
    /contrastive: distance must be one of euclidean, cosine, got "manhattan"/,
  );
  assert.throws(
    () => L.centerLoss({ numClasses: 2, embeddingDim: 2, alpha: 2 }),
    /centerLoss: alpha must be in \[0, 1\], got 2/,
  );
  head.dispose();
  x.dispose();
});

// ---- monotonic targets ----

test('every margin target is non-increasing in θ over [0, π]', () => {
  const theta = Array.from({ length: 4001 }, (_, i) => (i * Math.PI) / 4000);
  const heads: Array<[string, L.CosineHead<L.AdaFaceContext>, Array<Partial<L.AdaFaceContext>>]> = [
    ['arcFace m=0.5', L.arcFace({ numClasses: 2, embeddingDim: 2 }), [{}]],
    ['arcFace m=1.2', L.arcFace({ numClasses: 2, embeddingDim: 2, m: 1.2 }), [{}]],
    ['cosFace', L.cosFace({ numClasses: 2, embeddingDim: 2 }), [{}]],
    ['normFace', L.normFace({ numClasses: 2, embeddingDim: 2 }), [{}]],
    ...[1, 2, 3, 4, 5].map(
      (m) =>
        [`sphereFace ψ m=${m}`, L.sphereFace({ numClasses: 2, embeddingDim: 2, m, lambda: 0 }), [{}]] as [
          string,
          L.CosineHead<L.AdaFaceContext>,
          Array<Partial<L.TargetContext>>,
        ],
    ),
    ['sphereFace λ=5', L.sphereFace({ numClasses: 2, embeddingDim: 2, lambda: 5 }), [{}]],
    ['combined (1,0.3,0.2)', L.combinedMargin({ numClasses: 2, embeddingDim: 2 }), [{}]],
    ['combined (0.9,0.4,0.15)', L.combinedMargin({ numClasses: 2, embeddingDim: 2, m1: 0.9, m2: 0.4, m3: 0.15 }), [{}]],
    ['combined (1.5,0.2,0.1)', L.combinedMargin({ numClasses: 2, embeddingDim: 2, m1: 1.5, m2: 0.2, m3: 0.1 }), [{}]],
    ['combined (2.5,0.3,0)', L.combinedMargin({ numClasses: 2, embeddingDim: 2, m1: 2.5, m2: 0.3, m3: 0 }), [{}]],
    ['curricularFace', L.curricularFace({ numClasses: 2, embeddingDim: 2 }), [{}]],
    ['subCenterArcFace', L.subCenterArcFace({ numClasses: 2, embeddingDim: 2 }), [{}]],
    [
      'adaFace',
      L.adaFace({ numClasses: 2, embeddingDim: 2 }),
      [{ marginScaler: -1 }, { marginScaler: 0 }, { marginScaler: 0.5 }, { marginScaler: 1 }],
    ],
  ];
  for (const [name, head, contexts] of heads) {
    for (const ctx of contexts) {
      const f = head.targetCurve(theta, ctx);
      for (let i = 1; i < f.length; i++) {
        assert.ok(
          f[i] <= f[i - 1] + 1e-6,
          `${name} ${JSON.stringify(ctx)}: target rises from ${f[i - 1]} to ${f[i]} at θ = ${theta[i].toFixed(4)}`,
        );
      }
      assert.ok(allFinite(f), name);
    }
    head.dispose();
  }
});

test('easyMargin is the documented exception: its target jumps up at θ = π/2', () => {
  const head = L.arcFace({ numClasses: 2, embeddingDim: 2, m: 0.5, easyMargin: true });
  const [below, above] = head.targetCurve([Math.PI / 2 - 1e-3, Math.PI / 2 + 1e-3]);
  assert.ok(Math.abs(below - Math.cos(Math.PI / 2 - 1e-3 + 0.5)) < 1e-5);
  assert.ok(Math.abs(above - Math.cos(Math.PI / 2 + 1e-3)) < 1e-5);
  assert.ok(above > below + 0.4, 'easy margin should jump up by about sin m');
  head.dispose();
});

// ---- running state ----

test('CurricularFace updates t ← 0.01·mean(cos θ_y) + 0.99·t in training mode only', () => {
  const [N, D, C] = [8, 4, 5];
  const x = randMat(N, D, 3);
  const W = randMat(D, C, 4);
  const y = randLabels(N, C, 5);
  const head = L.curricularFace({ numClasses: C, embeddingDim: D, weights: W });
  assert.equal(head.t, 0);
  const l1 = tf.tidy(() => head.compute(tf.tensor2d(x), y).dataSync()[0]);
  const r1 = R.curricularRef(x, W, y, 64, 0.5, 0, true);
  assert.ok(Math.abs(head.t - r1.t) < 1e-6, `t = ${head.t}, expected ${r1.t}`);
  assert.ok(Math.abs(l1 - r1.loss) <= 1e-4 * r1.loss);
  const r2 = R.curricularRef(x, W, y, 64, 0.5, r1.t, true);
  tf.tidy(() => head.compute(tf.tensor2d(x), y));
  assert.ok(Math.abs(head.t - r2.t) < 1e-6);
  head.training = false;
  tf.tidy(() => head.compute(tf.tensor2d(x), y));
  assert.ok(Math.abs(head.t - r2.t) < 1e-6, 'eval mode changed t');
  head.dispose();
});

test('AdaFace updates its running norm statistics in training mode only', () => {
  const [N, D, C] = [8, 4, 5];
  const x = randMat(N, D, 13, 3);
  const W = randMat(D, C, 14);
  const y = randLabels(N, C, 15);
  const head = L.adaFace({ numClasses: C, embeddingDim: D, weights: W });
  const l1 = tf.tidy(() => head.compute(tf.tensor2d(x), y).dataSync()[0]);
  const r1 = R.adaFaceRef(x, W, y, { s: 64, m: 0.4, h: 0.333, alpha: 0.01, mean: 20, std: 100, training: true });
  assert.ok(
    Math.abs(head.normStats.mean - r1.mean) < 1e-4 && Math.abs(head.normStats.std - r1.std) < 1e-3,
    JSON.stringify([head.normStats, r1]),
  );
  assert.ok(Math.abs(l1 - r1.loss) <= 1e-4 * r1.loss, `${l1} vs ${r1.loss}`);
  const before = head.normStats;
  tf.tidy(() => head.compute(tf.tensor2d(x), y, { training: false }));
  assert.deepEqual(head.normStats, before);
  head.dispose();
});

test('center loss moves the centers by the Wen et al. rule in training mode', () => {
  const x = randMat(6, 3, 21);
  const y = [0, 1, 1, 2, 0, 0];
  const c0 = randMat(4, 3, 22);
  const loss = L.centerLoss({ numClasses: 4, embeddingDim: 3, centers: c0, alpha: 0.5 });
  const v = tf.tidy(() => loss.compute(tf.tensor2d(x), y).dataSync()[0]);
  const ref = R.centerRef(x, y, c0, 0.5);
  assert.ok(Math.abs(v - ref.loss) < 1e-5);
  assert.ok(relError(loss.centers.dataSync(), ref.centers.flat()) < 1e-6);
  assert.deepEqual(
    Array.from(loss.centers.dataSync()).slice(9),
    c0[3].map((v) => Math.fround(v)),
    'a class absent from the batch keeps its center',
  );
  loss.dispose();
  const both = L.softmaxCenterLoss({ numClasses: 4, embeddingDim: 3, lambda: 0.1 });
  const total = tf.tidy(() => both.compute(tf.tensor2d(x), y, { training: false }).dataSync()[0]);
  const sm = tf.tidy(() => both.softmax.compute(tf.tensor2d(x), y).dataSync()[0]);
  const ce = tf.tidy(() => both.center.compute(tf.tensor2d(x), y, { training: false }).dataSync()[0]);
  assert.ok(Math.abs(total - (sm + 0.1 * ce)) < 1e-5);
  both.dispose();
});

test('SphereFace λ schedule: max(λ_min, base·(1+γ·it)^−power), stepped by the trainer', () => {
  const s = new L.LambdaSchedule();
  assert.equal(s.at(0), 1000);
  assert.ok(Math.abs(s.at(10) - 1000 / 2.2) < 1e-9);
  assert.equal(s.at(1e6), 5);
  const head = L.sphereFace({ numClasses: 3, embeddingDim: 2 });
  assert.equal(head.lambda, 1000);
  for (let i = 0; i < 10; i++) head.step();
  assert.ok(Math.abs(head.lambda - 1000 / 2.2) < 1e-9);
  assert.equal((head.config().schedule as { iteration: number }).iteration, 10);
  head.dispose();
});

// ---- memory ----

test('computing any loss inside tf.tidy leaves the tensor count unchanged', () => {
  const [N, D, C] = [8, 6, 4];
  const x = tf.tensor2d(randMat(N, D, 41));
  const y = Array.from({ length: N }, (_, i) => i % C);
  const losses: L.EmbeddingLoss[] = [
    L.softmaxLoss({ numClasses: C, embeddingDim: D }),
    ...headCases.map((c) => c.make(randMat(D, C * (c.K ?? 1), 3), C, D)),
    ...pairCases.map((c) => c.make()),
    L.softmaxCenterLoss({ numClasses: C, embeddingDim: D }),
  ];
  for (const loss of losses) {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      loss.compute(x, y);
    });
    tf.tidy(() => {
      tf.grad((xx: tf.Tensor) => loss.compute(xx as tf.Tensor2D, y))(x);
    });
    const h = loss as Partial<L.ClassifierHead>;
    if (h.logits)
      tf.tidy(() => {
        h.logits!(x, y);
        h.cosines!(x);
      });
    assert.equal(tf.memory().numTensors, before, `${loss.name} leaked tensors`);
    const out = loss.compute(x, y);
    assert.equal(tf.memory().numTensors, before + 1, `${loss.name}: compute() outside tidy should add only its result`);
    out.dispose();
    loss.dispose();
  }
  x.dispose();
});

test('sub-center ArcFace: nearest sub-center is the argmax of cosines over the C·K columns', () => {
  const W = randMat(3, 6, 61);
  const head = L.subCenterArcFace({ numClasses: 2, embeddingDim: 3, K: 3, weights: W });
  const x = randMat(7, 3, 62);
  const cos = R.cosMatrix(x, W);
  assert.deepEqual(
    head.nearestSubCenters(x),
    cos.map((row) => row.indexOf(Math.max(...row))),
  );
  head.dispose();
});

test('safeAcos: float32 derivative equals the float64 one near c = ±1 (to 1e-6), and is finite at ±1', () => {
  const f32 = new Float32Array(1);
  const cs: number[] = [];
  for (let k = 1; k <= 3000; k += 7) {
    f32[0] = 1 - k * 2 ** -24;
    cs.push(f32[0]);
    f32[0] = -1 + k * 2 ** -24;
    cs.push(f32[0]);
  }
  for (const c of [0.5, 0.9, -0.3, 0.99999, 1e-3]) {
    f32[0] = c;
    cs.push(f32[0]);
  }
  const g = tf.tidy(() =>
    tf
      .grad((x: tf.Tensor) => safeAcos(x).sum())(tf.tensor1d(cs))
      .dataSync(),
  );
  let worst = 0;
  cs.forEach((c, i) => {
    const truth = -1 / Math.sqrt(1 - c * c);
    worst = Math.max(worst, Math.abs(g[i] - truth) / Math.abs(truth));
  });
  assert.ok(worst <= 1e-6, `worst relative error ${worst}`);
  const ends = tf.tidy(() =>
    Array.from(
      tf
        .grad((x: tf.Tensor) => safeAcos(x).sum())(tf.tensor1d([1, -1]))
        .dataSync(),
    ),
  );
  assert.deepEqual(ends, [-1e6, -1e6], 'at ±1 the derivative is the documented finite 1/√GRAD_EPS');
});

test('contrastiveLoss: a batch with no positive pair is an error that says so, not a number', async () => {
  await useBestBackend({ print: false });
  const c = L.contrastiveLoss({});
  const x = tf.tensor2d([
    [1, 0],
    [0, 1],
    [1, 1],
  ]);
  assert.throws(
    () => c.compute(x, [0, 1, 2]),
    /contrastive: the batch of 3 has no positive pair \(no two embeddings share a label\)/,
  );
  assert.ok(Number.isFinite((await c.compute(x, [0, 0, 2]).data())[0]), 'one positive pair is enough');
});

test('an angular margin given in degrees (as pytorch-metric-learning takes it) is told it must be radians', () => {
  assert.throws(
    () => L.arcFace({ numClasses: 3, embeddingDim: 2, m: 28.6 }),
    /arcface: m must be a number in \[0, π\/2\), got 28\.6 \(margins are in radians \(0\.5 rad = 28\.6°\); 28\.6° would be 0\.4992 rad\)/,
  );
  assert.throws(() => L.subCenterArcFace({ numClasses: 3, embeddingDim: 2, m: 30 }), /margins are in radians/);
  assert.equal(L.arcFace({ numClasses: 3, embeddingDim: 2, m: 0.4992 }).m, 0.4992);
});

test('triplet: the built-in miners run on the device as masked reductions, and give the value, gradient and counts of the same miner run on the CPU', () => {
  const x = randMat(16, 5, 21);
  const y = Array.from({ length: 16 }, (_, i) => i % 4);
  for (const miner of ['batchAll', 'batchHard', 'semiHard'] as const) {
    for (const reduction of ['mean-active', 'mean'] as const) {
      const device = L.tripletLoss({ miner, margin: 0.4, reduction });
      // The same miner wrapped in a function is a custom miner: it reads the distances on the CPU.
      const cpu = L.tripletLoss({ miner: (input) => L.miners[miner](input), margin: 0.4, reduction });
      const run = (loss: L.TripletLoss) =>
        tf.tidy(() => {
          const xt = tf.tensor2d(x);
          const v = loss.compute(xt, y).dataSync()[0];
          const g = tf.grad((a: tf.Tensor) => loss.compute(a as tf.Tensor2D, y))(xt);
          return { v, g: Array.from(g.dataSync()) };
        });
      const a = run(device);
      const b = run(cpu);
      assert.ok(Math.abs(a.v - b.v) <= 1e-5 * Math.max(1, Math.abs(b.v)), `${miner}/${reduction}: ${a.v} vs ${b.v}`);
      assert.ok(relError(a.g, b.g) <= 1e-4, `${miner}/${reduction}: gradient differs by ${relError(a.g, b.g)}`);
      assert.deepEqual(device.lastStats, cpu.lastStats, `${miner}/${reduction}: counts`);
      assert.ok(device.lastStats.mined > 0);
    }
  }
});

test('every shipped loss in the registry has a float64 reference: a case in test/helpers/loss-cases.ts, or a named test here', () => {
  const covered = new Map<string, string>();
  for (const c of headCases) {
    const loss = c.make(randMat(3, 4 * (c.K ?? 1), 1), 4, 3);
    const id = L.entryOf(loss)?.id;
    if (id) covered.set(id, `case ${c.name}`);
    loss.dispose();
  }
  for (const c of pairCases) {
    const id = L.entryOf(c.make())?.id;
    if (id) covered.set(id, `case ${c.name}`);
  }
  const source = fs.readFileSync(path.join(ROOT, 'test', 'losses.test.ts'), 'utf8');
  for (const [id, title] of Object.entries(REFERENCED_ELSEWHERE)) {
    assert.ok(source.includes(`test('${title}'`), `${id}: no test titled "${title}" in losses.test.ts`);
    covered.set(id, title);
  }
  const missing = L.LOSS_TABLE.map((e) => e.id).filter((id) => !covered.has(id));
  assert.deepEqual(missing, [], `shipped losses without a float64 reference case: ${missing.join(', ')}`);
});

/** Metrics against hand-computed cases and brute-force float64 computations on random data. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as ml from 'margin-lab';
import { rng } from './helpers/numeric';

const close = (a: number, b: number, tol = 1e-12) => Math.abs(a - b) <= tol;

function randomScores(n: number, seed: number, ties = false): { scores: number[]; same: number[] } {
  const r = rng(seed);
  const same = Array.from({ length: n }, () => (r() < 0.4 ? 1 : 0));
  const scores = same.map((s) => {
    const v = (s ? 0.3 : 0) + r() * 0.8 - 0.2;
    return ties ? Math.round(v * 10) / 10 : v;
  });
  return { scores, same };
}

/** O(n²) ROC point at threshold t: accept when score ≥ t. */
function bruteRates(scores: number[], same: number[], t: number): { far: number; tar: number } {
  let tp = 0,
    fp = 0,
    p = 0,
    n = 0;
  scores.forEach((s, i) => {
    if (same[i]) {
      p++;
      if (s >= t) tp++;
    } else {
      n++;
      if (s >= t) fp++;
    }
  });
  return { far: fp / n, tar: tp / p };
}

test('metrics refuse non-finite embeddings (naming the function, the row and the column) and target FARs outside (0, 1]', () => {
  const d = 2;
  const good = Float64Array.from([1, 0, 0, 1, 1, 0, 0, 1]);
  const labels = [0, 1, 0, 1];
  const bad = Float64Array.from(good);
  bad[5] = NaN; // row 2, column 1
  assert.throws(
    () => ml.rankKAccuracy(bad, labels, good, labels, d),
    /rankKAccuracy: gallery row 2, column 1 is NaN; embeddings must be finite numbers/,
  );
  assert.throws(() => ml.rankKAccuracy(good, labels, bad, labels, d), /rankKAccuracy: probe row 2, column 1 is NaN/);
  const inf = Float32Array.from(good);
  inf[0] = Infinity;
  assert.throws(() => ml.normalizeRows(inf, d), /normalizeRows: embedding row 0, column 0 is Infinity/);
  const curve = ml.roc([0.9, 0.1, 0.8, 0.2], [1, 0, 1, 0]);
  assert.throws(
    () => ml.evaluateEmbeddings(new Float32Array(8), '4' as unknown as number, new Int32Array(2)),
    /evaluateEmbeddings: dim must be a positive integer, got "4" \(a string\)/,
  );
  for (const f of [-1, 0, 2, NaN])
    assert.throws(() => ml.tarAtFar(curve, [f]), /tarAtFar: every target FAR must be a number in \(0, 1\], got/);
  // The finite ones still score.
  assert.deepEqual(ml.rankKAccuracy(good, labels, good, labels, d, [1]), { 1: 1 });
});

test('ROC on a hand-computed case', () => {
  const c = ml.roc([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]);
  assert.deepEqual(c.far, [0, 0, 0.5, 0.5, 1]);
  assert.deepEqual(c.tar, [0, 0.5, 0.5, 1, 1]);
  assert.equal(ml.auc(c), 0.75);
  assert.equal(ml.eer(c).eer, 0.5);
  const perfect = ml.roc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]);
  assert.equal(ml.auc(perfect), 1);
  assert.equal(ml.eer(perfect).eer, 0);
  assert.throws(() => ml.roc([0.1, 0.2], [1, 1]), /needs both genuine and impostor pairs/);
  assert.throws(() => ml.roc([0.1, NaN], [1, 0]), /score 1 is NaN/);
});

test('ROC points are monotone, end at (1, 1), and match a brute-force threshold sweep (with ties)', () => {
  for (const ties of [false, true]) {
    const { scores, same } = randomScores(400, ties ? 11 : 12, ties);
    const c = ml.roc(scores, same);
    for (let i = 1; i < c.far.length; i++) {
      assert.ok(c.far[i] >= c.far[i - 1] && c.tar[i] >= c.tar[i - 1]);
      const b = bruteRates(scores, same, c.thresholds[i]);
      assert.ok(close(b.far, c.far[i]) && close(b.tar, c.tar[i]), `point ${i}`);
    }
    assert.equal(c.far[c.far.length - 1], 1);
    assert.equal(c.tar[c.tar.length - 1], 1);
    // AUC = P(genuine > impostor) + ½ P(tie), the Mann–Whitney statistic.
    let wins = 0;
    let pairs = 0;
    scores.forEach((s, i) => {
      if (!same[i]) return;
      scores.forEach((t, j) => {
        if (same[j]) return;
        pairs++;
        wins += s > t ? 1 : s === t ? 0.5 : 0;
      });
    });
    assert.ok(close(ml.auc(c), wins / pairs, 1e-12), `AUC ${ml.auc(c)} vs ${wins / pairs}`);
  }
});

test('EER lies where FAR = 1 − TAR; TAR@FAR is the best TAR within the FAR budget', () => {
  const { scores, same } = randomScores(1000, 5);
  const c = ml.roc(scores, same);
  const { eer } = ml.eer(c);
  // Brute force: the crossing of FAR(t) and FRR(t) over all thresholds brackets the EER.
  let lo = -Infinity;
  let hi = Infinity;
  for (const t of [...new Set(scores)]) {
    const r = bruteRates(scores, same, t);
    const gap = r.far - (1 - r.tar);
    if (gap <= 0) lo = Math.max(lo, r.far);
    if (gap >= 0) hi = Math.min(hi, r.far);
  }
  assert.ok(eer >= Math.min(lo, hi) - 1e-12 && eer <= Math.max(lo, hi) + 1e-12, `EER ${eer} not within [${lo}, ${hi}]`);
  const res = ml.tarAtFar(c, [1e-1, 1e-2, 1e-4]);
  for (const r of res.slice(0, 2)) {
    let best = 0;
    for (const t of [...new Set(scores)]) {
      const b = bruteRates(scores, same, t);
      if (b.far <= r.far) best = Math.max(best, b.tar);
    }
    assert.ok(r.supported && close(r.tar!, best), `TAR@${r.far}: ${r.tar} vs ${best}`);
  }
  assert.equal(res[2].supported, false);
  assert.match(res[2].note!, /needs ≥ 10000 impostor pairs, have \d+/);
});

test('10-fold accuracy chooses thresholds on the other folds (brute force agrees)', () => {
  const { scores, same } = randomScores(600, 21);
  const fold = scores.map((_, i) => i % 10);
  const r = ml.kFoldAccuracy(scores, same, fold);
  const accs: number[] = [];
  for (let f = 0; f < 10; f++) {
    const tr = scores.map((_s, i) => i).filter((i) => fold[i] !== f);
    // Candidates: above everything, and midpoints between consecutive distinct scores.
    const uniq = [...new Set(tr.map((i) => scores[i]))].sort((a, b) => b - a);
    const cands = [uniq[0] + 1, ...uniq.map((s, k) => (k + 1 < uniq.length ? (s + uniq[k + 1]) / 2 : s - 1e-6))];
    let bestT = cands[0];
    let bestAcc = -1;
    for (const t of cands) {
      const acc = tr.filter((i) => (scores[i] >= t ? 1 : 0) === same[i]).length;
      if (acc > bestAcc) {
        bestAcc = acc;
        bestT = t;
      }
    }
    const te = scores.map((_s, i) => i).filter((i) => fold[i] === f);
    accs.push(te.filter((i) => (scores[i] >= bestT ? 1 : 0) === same[i]).length / te.length);
  }
  const mean = accs.reduce((a, b) => a + b, 0) / 10;
  assert.deepEqual(
    r.folds.map((v) => v.toFixed(12)),
    accs.map((v) => v.toFixed(12)),
  );
  assert.ok(close(r.mean, mean));
  assert.ok(close(r.std, Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / 10)));
  // Perfectly separable scores give 100% on every fold.
  const sep = ml.kFoldAccuracy([0.9, 0.1, 0.8, 0.2, 0.95, 0.05], [1, 0, 1, 0, 1, 0], [0, 0, 1, 1, 2, 2]);
  assert.equal(sep.mean, 1);
});

function randUnit(n: number, d: number, seed: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n * d);
  for (let i = 0; i < n * d; i++) out[i] = 2 * r() - 1;
  return ml.normalizeRows(out, d);
}

test('rank-k identification and open-set DIR match brute force', () => {
  const d = 4;
  const gl = [0, 0, 1, 1, 2, 2, 3, 3];
  const pl = Array.from({ length: 40 }, (_, i) => i % 6); // identities 4 and 5 are unknown
  const g = randUnit(gl.length, d, 1);
  const p = randUnit(pl.length, d, 2);
  const cos = (i: number, j: number) => {
    let s = 0;
    for (let k = 0; k < d; k++) s += p[i * d + k] * g[j * d + k];
    return s;
  };
  const known = pl.map((_l, i) => i).filter((i) => pl[i] < 4);
  const best = (i: number) =>
    [0, 1, 2, 3].map((id) => Math.max(...gl.map((l, j) => (l === id ? cos(i, j) : -Infinity))));
  // rank-k among known probes
  const r = ml.rankKAccuracy(g, gl, p, pl, d, [1, 2]);
  // No probes, no gallery, mismatched shapes and bad k are errors, not NaN.
  assert.throws(() => ml.rankKAccuracy(g, gl, new Float64Array(0), [], d), /rankKAccuracy: no probes/);
  assert.throws(() => ml.rankKAccuracy(new Float64Array(0), [], p, pl, d), /rankKAccuracy: the gallery is empty/);
  assert.throws(() => ml.rankKAccuracy(g, gl, p.subarray(1), pl, d), /probes hold \d+ values, expected/);
  assert.throws(() => ml.rankKAccuracy(g, gl, p, pl, d, [0]), /every k must be an integer ≥ 1, got 0/);
  const rank = (i: number) => {
    const sc = best(i);
    return sc.filter((v) => v > sc[pl[i]]).length;
  };
  assert.ok(close(r[1], pl.filter((l, i) => rank(i) === 0 && l < 4).length / pl.length));
  assert.ok(close(r[2], pl.filter((l, i) => rank(i) < 2 && l < 4).length / pl.length));
  // open set
  const res = ml.openSetIdentification(g, gl, p, pl, d, [0.25]);
  const unknownTop = pl
    .map((_l, i) => i)
    .filter((i) => pl[i] >= 4)
    .map((i) => Math.max(...best(i)));
  const t = res[0].threshold!;
  assert.ok(unknownTop.filter((s) => s > t).length <= Math.floor(0.25 * unknownTop.length));
  const dir =
    known.filter((i) => {
      const sc = best(i);
      const top = sc.indexOf(Math.max(...sc));
      return top === pl[i] && sc[top] > t;
    }).length / known.length;
  assert.ok(close(res[0].dir!, dir));
  assert.equal(ml.openSetIdentification(g, gl, p, pl, d, [1e-3])[0].supported, false);
});

test('geometry statistics on a hand-made configuration', () => {
  const a = (deg: number) => [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)];
  // class 0 at 10° ± 10°, class 1 at 100° ± 20°
  const pts = [a(0), a(20), a(80), a(120)];
  const u = Float64Array.from(pts.flat());
  const g = ml.geometryStats(u, [0, 0, 1, 1], 2);
  assert.ok(close(g.meanAngleToCenter[0], 10, 1e-9) && close(g.meanAngleToCenter[1], 20, 1e-9));
  assert.ok(close(g.minCenterAngle.degrees, 90, 1e-9));
  const h = ml.pairAngleHistograms([1, Math.cos(Math.PI / 4), -1], [1, 0, 0], 45);
  assert.deepEqual(h.genuine, [1, 0, 0, 0]);
  assert.deepEqual(h.impostor, [0, 1, 0, 1]);
});

test('evaluateEmbeddings leaves out rank-k that is 100 % by construction (k ≥ gallery identities)', () => {
  const embed = (classes: number) => {
    const n = classes * 12;
    const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
    const emb = new Float32Array(n * 4);
    // Noisy class directions: deterministic, not separable enough to make rank-1 trivially 100 %.
    for (let i = 0; i < n; i++)
      for (let k = 0; k < 4; k++)
        emb[i * 4 + k] = Math.sin(labels[i] * 1.7 + k) + Math.sin(i * 12.9898 + k * 78.233) * 1.5;
    return ml.evaluateEmbeddings(emb, 4, labels, { perFold: 10 });
  };
  const five = embed(5);
  assert.deepEqual(Object.keys(five.rank), ['1']);
  assert.doesNotMatch(ml.formatReport(five), /rank-5/);
  const six = embed(6);
  assert.deepEqual(Object.keys(six.rank).sort(), ['1', '5']);
  assert.ok(six.rank[5] >= six.rank[1]);
});

test('evaluateEmbeddings: without perFold, a small set gets as many pairs per fold as its genuine pairs allow; a perFold it cannot meet is refused', () => {
  // 10 classes × 4 images: 10 · C(4, 2) = 60 genuine pairs, 6 per fold.
  const labels = Int32Array.from({ length: 40 }, (_, i) => i % 10);
  const emb = new Float32Array(40 * 3);
  for (let i = 0; i < 40; i++)
    for (let k = 0; k < 3; k++) emb[i * 3 + k] = Math.cos(labels[i] * 2.1 + k) + 0.1 * Math.sin(i * 7 + k);
  const r = ml.evaluateEmbeddings(emb, 3, labels);
  assert.deepEqual([r.pairs.genuine, r.pairs.impostor, r.pairs.folds], [60, 60, 10]);
  assert.throws(
    () => ml.evaluateEmbeddings(emb, 3, labels, { perFold: 300 }),
    /verificationPairs: 3000 same pairs requested \(10 folds × 300\) but only 60 exist/,
  );
});

/**
 * Open-set evaluation on cosine similarity of L2-normalized embeddings, as face papers report
 * it: verification ROC (exact, sort-based), AUC, EER, TAR@FAR, LFW-protocol 10-fold accuracy,
 * closed-set rank-k identification and open-set identification (DIR at FAR).
 * Scores: higher = more similar. Labels: true/1 = same identity (genuine), 0 = impostor.
 */
import { minOf, norm2 } from '../util/reduce';

export interface RocCurve {
  /** False accept rate at each threshold, from 0 to 1. */
  far: number[];
  /** True accept rate at each threshold, from 0 to 1. */
  tar: number[];
  /** Threshold giving each point (accept score ≥ threshold); +Infinity for the first point. */
  thresholds: number[];
  positives: number;
  negatives: number;
}

function counts(same: ArrayLike<number | boolean>): { pos: number; neg: number } {
  let pos = 0;
  for (let i = 0; i < same.length; i++) if (same[i]) pos++;
  return { pos, neg: same.length - pos };
}

/** Equal lengths and finite scores (a NaN score would also stall the tie loops below). */
function checkFiniteScores(scores: ArrayLike<number>, same: ArrayLike<number | boolean>, what: string): void {
  if (scores.length !== same.length) throw new Error(`${what}: ${scores.length} scores but ${same.length} labels`);
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i]))
      throw new Error(
        `${what}: score ${i} is ${scores[i]}; scores must be finite numbers (NaN embeddings from a diverged model?)`,
      );
  }
}

function checkScores(scores: ArrayLike<number>, same: ArrayLike<number | boolean>, what: string): void {
  checkFiniteScores(scores, same, what);
  const { pos, neg } = counts(same);
  if (pos === 0 || neg === 0)
    throw new Error(`${what}: needs both genuine and impostor pairs (got ${pos} genuine, ${neg} impostor)`);
}

/** Exact ROC in O(n log n): one point per distinct score, ties handled together. */
export function roc(scores: ArrayLike<number>, same: ArrayLike<number | boolean>): RocCurve {
  checkScores(scores, same, 'roc');
  const { pos, neg } = counts(same);
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const far = [0];
  const tar = [0];
  const thresholds = [Infinity];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length;) {
    const s = scores[order[k]];
    while (k < order.length && scores[order[k]] === s) {
      if (same[order[k]]) tp++;
      else fp++;
      k++;
    }
    far.push(fp / neg);
    tar.push(tp / pos);
    thresholds.push(s);
  }
  return { far, tar, thresholds, positives: pos, negatives: neg };
}

/** Area under the ROC curve (trapezoids; equals P(genuine > impostor) + ½·P(tie)). */
export function auc(curve: RocCurve): number {
  let a = 0;
  for (let i = 1; i < curve.far.length; i++)
    a += ((curve.far[i] - curve.far[i - 1]) * (curve.tar[i] + curve.tar[i - 1])) / 2;
  return a;
}

/** Equal error rate: where FAR = FRR = 1 − TAR, by linear interpolation between ROC points. */
export function eer(curve: RocCurve): { eer: number; threshold: number } {
  for (let i = 1; i < curve.far.length; i++) {
    const d0 = curve.far[i - 1] - (1 - curve.tar[i - 1]);
    const d1 = curve.far[i] - (1 - curve.tar[i]);
    if (d0 <= 0 && d1 >= 0) {
      const t = d1 === d0 ? 0 : -d0 / (d1 - d0);
      const rate = curve.far[i - 1] + t * (curve.far[i] - curve.far[i - 1]);
      return { eer: rate, threshold: curve.thresholds[i] };
    }
  }
  return { eer: NaN, threshold: NaN };
}

export interface TarAtFar {
  far: number;
  /** Highest TAR with FAR ≤ far; null when unsupported. */
  tar: number | null;
  threshold: number | null;
  /** False when there are fewer than 1/far impostor pairs: that FAR cannot be measured. */
  supported: boolean;
  note?: string;
}

/** TAR at each target FAR (default 1e-1 … 1e-4). */
export function tarAtFar(curve: RocCurve, targets: number[] = [1e-1, 1e-2, 1e-3, 1e-4]): TarAtFar[] {
  for (const f of targets)
    if (typeof f !== 'number' || !(f > 0 && f <= 1))
      throw new Error(`tarAtFar: every target FAR must be a number in (0, 1], got ${JSON.stringify(f)}`);
  return targets.map((f) => {
    if (curve.negatives * f < 1) {
      return {
        far: f,
        tar: null,
        threshold: null,
        supported: false,
        note: `needs ≥ ${Math.ceil(1 / f)} impostor pairs, have ${curve.negatives}`,
      };
    }
    let best = 0;
    let thr = Infinity;
    for (let i = 0; i < curve.far.length; i++) {
      if (curve.far[i] <= f + 1e-12 && curve.tar[i] >= best) {
        best = curve.tar[i];
        thr = curve.thresholds[i];
      }
    }
    return { far: f, tar: best, threshold: thr, supported: true };
  });
}

/** Best accuracy threshold on a set of pairs: accept score ≥ t. Returns threshold and accuracy. */
export function bestThreshold(
  scores: ArrayLike<number>,
  same: ArrayLike<number | boolean>,
): { threshold: number; accuracy: number } {
  checkFiniteScores(scores, same, 'bestThreshold');
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const { neg } = counts(same);
  const n = scores.length;
  // Threshold above everything: all rejected, correct = negatives.
  let bestCorrect = neg;
  let bestT = scores.length ? scores[order[0]] + 1 : 0;
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < n;) {
    const s = scores[order[k]];
    while (k < n && scores[order[k]] === s) {
      if (same[order[k]]) tp++;
      else fp++;
      k++;
    }
    const correct = tp + (neg - fp);
    if (correct > bestCorrect) {
      bestCorrect = correct;
      // Midway to the next lower score, so unseen scores between them split evenly.
      bestT = k < n ? (s + scores[order[k]]) / 2 : s - 1e-6;
    }
  }
  return { threshold: bestT, accuracy: n ? bestCorrect / n : NaN };
}

export interface FoldAccuracy {
  mean: number;
  /** Population standard deviation over folds (as LFW results are usually reported). */
  std: number;
  folds: number[];
  thresholds: number[];
}

/** LFW protocol: for each fold, the threshold is chosen on the other folds, accuracy measured on it. */
export function kFoldAccuracy(
  scores: ArrayLike<number>,
  same: ArrayLike<number | boolean>,
  fold: ArrayLike<number>,
): FoldAccuracy {
  checkScores(scores, same, 'kFoldAccuracy');
  if (fold.length !== scores.length)
    throw new Error(`kFoldAccuracy: ${fold.length} fold ids for ${scores.length} pairs`);
  const ids = [...new Set(Array.from(fold))].sort((a, b) => a - b);
  if (ids.length < 2) throw new Error('kFoldAccuracy: needs at least 2 folds');
  const accs: number[] = [];
  const thrs: number[] = [];
  for (const f of ids) {
    const trainS: number[] = [];
    const trainY: number[] = [];
    const testS: number[] = [];
    const testY: number[] = [];
    for (let i = 0; i < scores.length; i++) {
      if (fold[i] === f) {
        testS.push(scores[i]);
        testY.push(same[i] ? 1 : 0);
      } else {
        trainS.push(scores[i]);
        trainY.push(same[i] ? 1 : 0);
      }
    }
    const { threshold } = bestThreshold(trainS, trainY);
    let correct = 0;
    for (let i = 0; i < testS.length; i++) if ((testS[i] >= threshold ? 1 : 0) === testY[i]) correct++;
    accs.push(correct / testS.length);
    thrs.push(threshold);
  }
  const mean = accs.reduce((a, b) => a + b, 0) / accs.length;
  const std = Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / accs.length);
  return { mean, std, folds: accs, thresholds: thrs };
}

// ---- embeddings ----

/**
 * Refuses embeddings with a NaN or ±Inf entry: every metric would otherwise rank or score them
 * silently (a NaN compares false with everything). Names the function, the row and the column.
 */
export function checkFiniteEmbeddings(fn: string, what: string, emb: ArrayLike<number>, d: number): void {
  for (let i = 0; i < emb.length; i++)
    if (!Number.isFinite(emb[i]))
      throw new Error(
        `${fn}: ${what} row ${Math.floor(i / d)}, column ${i % d} is ${emb[i]}; embeddings must be finite numbers (a model that produced NaN or Inf diverged: check its training loss)`,
      );
}

/** Rows of a flat [n, d] array scaled to unit length (zero rows stay zero). */
export function normalizeRows(emb: Float32Array | Float64Array, d: number): Float64Array {
  if (!(Number.isInteger(d) && d >= 1))
    throw new Error(`normalizeRows: the embedding dimension must be a positive integer, got ${d}`);
  if (emb.length % d !== 0)
    throw new Error(`normalizeRows: ${emb.length} values are not a whole number of ${d}-dimensional embeddings`);
  checkFiniteEmbeddings('normalizeRows', 'embedding', emb, d);
  const n = emb.length / d;
  const out = new Float64Array(emb.length);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += emb[i * d + k] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let k = 0; k < d; k++) out[i * d + k] = emb[i * d + k] * inv;
  }
  return out;
}

/** Cosine similarity of rows i and j of normalized embeddings. */
export function cosineAt(u: Float64Array, d: number, i: number, j: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += u[i * d + k] * u[j * d + k];
  return s;
}

/** Scores of pairs (a[k], b[k]) of rows of normalized embeddings. */
export function pairScores(u: Float64Array, d: number, a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let k = 0; k < a.length; k++) out[k] = cosineAt(u, d, a[k], b[k]);
  return out;
}

/**
 * Closed-set identification: each probe is matched to the gallery identity with the highest
 * cosine (max over that identity's gallery images); rank-k accuracy for each k.
 */
export function rankKAccuracy(
  gallery: Float64Array,
  galleryLabels: ArrayLike<number>,
  probes: Float64Array,
  probeLabels: ArrayLike<number>,
  d: number,
  ks: number[] = [1, 5],
): Record<number, number> {
  const nP = probeLabels.length;
  if (nP === 0)
    throw new Error('rankKAccuracy: no probes (probeLabels is empty): the accuracy of nothing is undefined');
  if (galleryLabels.length === 0)
    throw new Error('rankKAccuracy: the gallery is empty: there is nothing to rank against');
  if (probes.length !== nP * d)
    throw new Error(`rankKAccuracy: probes hold ${probes.length} values, expected ${nP} probes × d = ${d}`);
  if (gallery.length !== galleryLabels.length * d)
    throw new Error(
      `rankKAccuracy: gallery holds ${gallery.length} values, expected ${galleryLabels.length} entries × d = ${d}`,
    );
  for (const k of ks)
    if (!(Number.isInteger(k) && k >= 1)) throw new Error(`rankKAccuracy: every k must be an integer ≥ 1, got ${k}`);
  checkFiniteEmbeddings('rankKAccuracy', 'gallery', gallery, d);
  checkFiniteEmbeddings('rankKAccuracy', 'probe', probes, d);
  const ids = [...new Set(Array.from(galleryLabels))];
  const hits = Object.fromEntries(ks.map((k) => [k, 0])) as Record<number, number>;
  for (let p = 0; p < nP; p++) {
    const best = identityScores(gallery, galleryLabels, probes, p, d, ids);
    const ranked = ids.map((id, i) => [id, best[i]] as const).sort((x, y) => y[1] - x[1]);
    const truth = probeLabels[p];
    const rank = ranked.findIndex(([id]) => id === truth);
    for (const k of ks) if (rank >= 0 && rank < k) hits[k]++;
  }
  for (const k of ks) hits[k] /= nP;
  return hits;
}

function identityScores(
  gallery: Float64Array,
  galleryLabels: ArrayLike<number>,
  probes: Float64Array,
  p: number,
  d: number,
  ids: number[],
): number[] {
  const best = new Map<number, number>(ids.map((id) => [id, -Infinity]));
  for (let g = 0; g < galleryLabels.length; g++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += gallery[g * d + k] * probes[p * d + k];
    if (s > best.get(galleryLabels[g])!) best.set(galleryLabels[g], s);
  }
  return ids.map((id) => best.get(id)!);
}

export interface OpenSetResult {
  far: number;
  /** Detection and identification rate: known probes ranked correctly first AND above threshold. */
  dir: number | null;
  threshold: number | null;
  supported: boolean;
  note?: string;
}

/**
 * Open-set identification: known probes (identity in the gallery) must be identified, unknown
 * probes rejected. For each FAR, the threshold lets that fraction of unknown probes through
 * (their best gallery score ≥ threshold); DIR is the fraction of known probes whose top match
 * is right and scores ≥ threshold.
 */
export function openSetIdentification(
  gallery: Float64Array,
  galleryLabels: ArrayLike<number>,
  probes: Float64Array,
  probeLabels: ArrayLike<number>,
  d: number,
  fars: number[] = [1e-1, 1e-2],
): OpenSetResult[] {
  checkFiniteEmbeddings('openSetIdentification', 'gallery', gallery, d);
  checkFiniteEmbeddings('openSetIdentification', 'probe', probes, d);
  const ids = [...new Set(Array.from(galleryLabels))];
  const known = new Set(ids);
  const unknownTop: number[] = [];
  const knownTop: Array<{ score: number; correct: boolean }> = [];
  for (let p = 0; p < probeLabels.length; p++) {
    const sc = identityScores(gallery, galleryLabels, probes, p, d, ids);
    let bi = 0;
    for (let i = 1; i < sc.length; i++) if (sc[i] > sc[bi]) bi = i;
    if (known.has(probeLabels[p])) knownTop.push({ score: sc[bi], correct: ids[bi] === probeLabels[p] });
    else unknownTop.push(sc[bi]);
  }
  if (knownTop.length === 0 || unknownTop.length === 0)
    throw new Error(
      `openSetIdentification: needs known and unknown probes (got ${knownTop.length} known, ${unknownTop.length} unknown)`,
    );
  const sortedU = unknownTop.slice().sort((a, b) => b - a);
  return fars.map((far) => {
    if (unknownTop.length * far < 1)
      return {
        far,
        dir: null,
        threshold: null,
        supported: false,
        note: `needs ≥ ${Math.ceil(1 / far)} unknown probes, have ${unknownTop.length}`,
      };
    // Accept a score s when s > threshold; at most floor(far·U) unknown probes may pass.
    const allowed = Math.floor(far * unknownTop.length);
    const threshold = sortedU[allowed] ?? -Infinity;
    const dir = knownTop.filter((k) => k.correct && k.score > threshold).length / knownTop.length;
    return { far, dir, threshold, supported: true };
  });
}

// ---- geometry ----

export interface GeometryStats {
  classes: number[];
  /** Unit mean direction of each class. */
  centers: number[][];
  /** Mean angle (degrees) between each class's samples and its center. */
  meanAngleToCenter: number[];
  /** Smallest angle (degrees) between two class centers, and which pair. */
  minCenterAngle: { degrees: number; pair: [number, number] };
}

const DEG = 180 / Math.PI;

/** Per-class compactness and between-class separation on the sphere. */
export function geometryStats(u: Float64Array, labels: ArrayLike<number>, d: number): GeometryStats {
  const classes = [...new Set(Array.from(labels))].sort((a, b) => a - b);
  const centers = classes.map((c) => {
    const m = new Array(d).fill(0);
    for (let i = 0; i < labels.length; i++) if (labels[i] === c) for (let k = 0; k < d; k++) m[k] += u[i * d + k];
    const norm = Math.sqrt(m.reduce((a, v) => a + v * v, 0));
    return m.map((v) => (norm > 0 ? v / norm : 0));
  });
  const meanAngleToCenter = classes.map((c, ci) => {
    let sum = 0;
    let cnt = 0;
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] !== c) continue;
      let dot = 0;
      for (let k = 0; k < d; k++) dot += u[i * d + k] * centers[ci][k];
      sum += Math.acos(Math.max(-1, Math.min(1, dot))) * DEG;
      cnt++;
    }
    return sum / cnt;
  });
  let min = { degrees: Infinity, pair: [classes[0], classes[0]] as [number, number] };
  for (let a = 0; a < classes.length; a++) {
    for (let b = a + 1; b < classes.length; b++) {
      const dot = centers[a].reduce((s, v, k) => s + v * centers[b][k], 0);
      const ang = Math.acos(Math.max(-1, Math.min(1, dot))) * DEG;
      if (ang < min.degrees) min = { degrees: ang, pair: [classes[a], classes[b]] };
    }
  }
  return { classes, centers, meanAngleToCenter, minCenterAngle: min };
}

/** Histograms (counts per bin of `binDegrees`, 0–180°) of the angles of genuine and impostor pairs. */
export function pairAngleHistograms(
  scores: ArrayLike<number>,
  same: ArrayLike<number | boolean>,
  binDegrees = 5,
): { edges: number[]; genuine: number[]; impostor: number[] } {
  const bins = Math.ceil(180 / binDegrees);
  const edges = Array.from({ length: bins + 1 }, (_, i) => Math.min(180, i * binDegrees));
  const genuine = new Array(bins).fill(0);
  const impostor = new Array(bins).fill(0);
  for (let i = 0; i < scores.length; i++) {
    const ang = Math.acos(Math.max(-1, Math.min(1, scores[i]))) * DEG;
    const b = Math.min(bins - 1, Math.floor(ang / binDegrees));
    (same[i] ? genuine : impostor)[b]++;
  }
  return { edges, genuine, impostor };
}

export interface WeightAgreement {
  /** Mean over all samples of cos(feature, its own class weight). */
  meanCos: number;
  /** Per class (index = local label): mean cos(feature, own weight) over that class's samples. */
  classMeanCos: number[];
  /** Classes whose mean cos(feature, own weight) is below 0: they sit on the far side of their weight. */
  farSide: number[];
  /** Share of samples whose nearest class weight (by cosine) is their own. */
  accuracy: number;
}

/**
 * How well features sit around their own class weight — the statistic behind the course's
 * flagship figures (features on the circle or sphere with the class weights drawn in).
 * `points` [n][D], `labels` local class indices 0..C−1, `W` [D][C] as `headWeights` returns it.
 */
export function ownWeightAgreement(points: number[][], labels: ArrayLike<number>, W: number[][]): WeightAgreement {
  const D = W.length;
  const C = D > 0 ? W[0].length : 0;
  if (D === 0 || C === 0) throw new Error(`ownWeightAgreement: W must be [D][C] with D, C ≥ 1, got ${D} rows`);
  if (points.length !== labels.length)
    throw new Error(`ownWeightAgreement: ${points.length} points but ${labels.length} labels`);
  if (points.length === 0) throw new Error('ownWeightAgreement: no points');
  const norms = Array.from({ length: C }, (_, c) => Math.sqrt(W.reduce((a, row) => a + row[c] * row[c], 0)));
  const sums = new Array<number>(C).fill(0);
  const counts = new Array<number>(C).fill(0);
  let total = 0;
  let correct = 0;
  points.forEach((p, i) => {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= C)
      throw new Error(`ownWeightAgreement: label ${y} at index ${i} is not a class of W (0..${C - 1})`);
    if (p.length !== D) throw new Error(`ownWeightAgreement: point ${i} has ${p.length} values, W has ${D} rows`);
    const pn = norm2(p);
    let best = -Infinity;
    let arg = -1;
    for (let c = 0; c < C; c++) {
      let dot = 0;
      for (let k = 0; k < D; k++) dot += p[k] * W[k][c];
      const cos = dot / (pn * norms[c]);
      if (cos > best) [best, arg] = [cos, c];
      if (c === y) {
        if (!Number.isFinite(cos))
          throw new Error(`ownWeightAgreement: point ${i} or the weight of class ${y} is zero or not finite`);
        sums[c] += cos;
        counts[c]++;
        total += cos;
      }
    }
    if (arg === y) correct++;
  });
  const classMeanCos = sums.map((s, c) => (counts[c] > 0 ? s / counts[c] : NaN));
  return {
    meanCos: total / points.length,
    classMeanCos,
    farSide: classMeanCos.flatMap((v, c) => (v < 0 ? [c] : [])),
    accuracy: correct / points.length,
  };
}

/** One line for notebooks and scripts: mean and lowest class cosine, far-side classes, accuracy. */
export function formatWeightAgreement(a: WeightAgreement, classNames?: readonly string[]): string {
  const name = (c: number) => classNames?.[c] ?? String(c);
  const far = a.farSide.length === 0 ? 'none' : a.farSide.map(name).join(', ');
  return (
    `mean cos(feature, own class weight) ${a.meanCos.toFixed(3)}, lowest class ${minOf(a.classMeanCos).toFixed(3)}; ` +
    `on the far side of their weight: ${far} (of ${a.classMeanCos.length} classes); nearest-weight accuracy ${(100 * a.accuracy).toFixed(1)} %`
  );
}

/**
 * The open-set metrics of one set of embeddings of identities the model never saw, as the
 * benchmark reports them:
 *
 *   - ROC over ALL pairs, exactly (no sampling): EER, TAR @ FAR = 1e-3 and 1e-4;
 *   - LFW-style 10-fold accuracy on 10 × 300 genuine + 300 impostor pairs;
 *   - rank-1 identification against a gallery of one image per identity;
 *   - DIR @ FAR = 1e-2: half of the identities enrolled (one image each), probes of the
 *     other half must be rejected.
 */
import {
  auc,
  eer,
  kFoldAccuracy,
  normalizeRows,
  openSetIdentification,
  pairScores,
  rankKAccuracy,
  roc,
  tarAtFar,
} from './metrics';
import { verificationPairs } from '../data/pairs';
import { Rng } from '../util/random';

/** What `openSetMetrics` measures. */
export interface OpenSetMetrics {
  tenFold: number;
  tenFoldStd: number;
  /** Genuine (and impostor) pairs per fold of the 10-fold accuracy. */
  pairsPerFold: number;
  eer: number;
  auc: number;
  tar1e3: number | null;
  tar1e4: number | null;
  rank1: number;
  dir1e2: number | null;
  genuinePairs: number;
  impostorPairs: number;
  /** ROC on a log-FAR grid (for overlaid curves). */
  roc: { far: number[]; tar: number[] };
}

/** Evaluates embeddings of unseen identities (see the module comment). */
export function openSetMetrics(emb: Float32Array, dim: number, labels: Int32Array, seed = 0): OpenSetMetrics {
  const u = normalizeRows(emb, dim);
  const n = labels.length;
  // All pairs, exactly.
  const m = (n * (n - 1)) / 2;
  const scores = new Float64Array(m);
  const same = new Uint8Array(m);
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++, k++) {
      let s = 0;
      for (let q = 0; q < dim; q++) s += u[i * dim + q] * u[j * dim + q];
      scores[k] = s;
      same[k] = labels[i] === labels[j] ? 1 : 0;
    }
  }
  const curve = roc(scores, same);
  const tars = tarAtFar(curve, [1e-3, 1e-4]);
  const grid = Array.from({ length: 41 }, (_, i) => Math.pow(10, -5 + i * 0.125));
  const rocGrid = tarAtFar(curve, grid);
  // 10-fold accuracy, LFW style: 300 + 300 pairs a fold, or fewer when the set is small (at most
  // half of the genuine pairs are drawn, so that sampling them without repeats stays quick).
  const perFold = Math.max(1, Math.min(300, Math.floor(curve.positives / 20)));
  const pairs = verificationPairs(labels, { folds: 10, perFold, seed });
  const fold = kFoldAccuracy(pairScores(u, dim, pairs.a, pairs.b), pairs.same, pairs.fold);
  // Identification: one gallery image per identity, chosen by seed.
  const rng = new Rng(seed + 11);
  const classes = [...new Set(Array.from(labels))].sort((a, b) => a - b);
  const galleryIdx: number[] = [];
  const probeIdx: number[] = [];
  for (const c of classes) {
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (labels[i] === c) idx.push(i);
    const g = idx[rng.int(idx.length)];
    galleryIdx.push(g);
    for (const i of idx) if (i !== g) probeIdx.push(i);
  }
  const rows = (idx: number[]) => {
    const out = new Float64Array(idx.length * dim);
    idx.forEach((i, r) => out.set(u.subarray(i * dim, (i + 1) * dim), r * dim));
    return out;
  };
  const probes = rows(probeIdx);
  const pl = probeIdx.map((i) => labels[i]);
  const rank1 = rankKAccuracy(
    rows(galleryIdx),
    galleryIdx.map((i) => labels[i]),
    probes,
    pl,
    dim,
    [1],
  )[1];
  // Open set: half of the identities enrolled.
  const enrolled = new Set(
    new Rng(seed + 13).shuffle(classes.slice()).slice(0, Math.floor(classes.length / 2)) as number[],
  );
  const kg = galleryIdx.filter((i) => enrolled.has(labels[i]));
  const dir = openSetIdentification(
    rows(kg),
    kg.map((i) => labels[i]),
    probes,
    pl,
    dim,
    [1e-2],
  )[0];
  return {
    tenFold: fold.mean,
    tenFoldStd: fold.std,
    pairsPerFold: perFold,
    eer: eer(curve).eer,
    auc: auc(curve),
    tar1e3: tars[0].supported ? tars[0].tar : null,
    tar1e4: tars[1].supported ? tars[1].tar : null,
    rank1,
    dir1e2: dir.supported ? dir.dir : null,
    genuinePairs: curve.positives,
    impostorPairs: curve.negatives,
    roc: {
      far: grid.filter((_, i) => rocGrid[i].supported),
      tar: rocGrid.filter((r) => r.supported).map((r) => r.tar as number),
    },
  };
}

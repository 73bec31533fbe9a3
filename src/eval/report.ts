/**
 * End-to-end evaluation of a trained backbone on a labelled set (typically the unseen classes
 * of an open-set split): verification (ROC, AUC, EER, TAR@FAR, 10-fold accuracy),
 * identification (rank-1/5) and open-set identification (DIR at FAR).
 */
import * as tf from '../tf';
import { verificationPairs } from '../data/pairs';
import { Rng } from '../util/random';
import {
  auc,
  eer,
  FoldAccuracy,
  geometryStats,
  GeometryStats,
  kFoldAccuracy,
  normalizeRows,
  openSetIdentification,
  OpenSetResult,
  pairScores,
  rankKAccuracy,
  roc,
  RocCurve,
  tarAtFar,
  TarAtFar,
} from './metrics';
import { tidyRead } from '../util/read';

/** Embeddings of every image, [n·d] floats, computed in batches without keeping tensors. */
export function embedImages(
  model: tf.LayersModel,
  x: Float32Array,
  shape: [number, number, number],
  batchSize = 256,
): { emb: Float32Array; dim: number } {
  const { n, per, dim, emb } = embedPlan(model, x, shape);
  for (let s = 0; s < n; s += batchSize) {
    const e = Math.min(n, s + batchSize);
    const out = tidyRead(() => embedBatch(model, x, shape, per, s, e));
    emb.set(out, s * dim);
  }
  return { emb, dim };
}

/**
 * `embedImages` with asynchronous reads: the same numbers, and it also runs on webgpu in Node,
 * which cannot read synchronously. The CLI and the benchmark use this one.
 */
export async function embedImagesAsync(
  model: tf.LayersModel,
  x: Float32Array,
  shape: [number, number, number],
  batchSize = 256,
): Promise<{ emb: Float32Array; dim: number }> {
  const { n, per, dim, emb } = embedPlan(model, x, shape);
  for (let s = 0; s < n; s += batchSize) {
    const e = Math.min(n, s + batchSize);
    const t = tf.tidy(() => embedBatch(model, x, shape, per, s, e));
    try {
      emb.set(await t.data(), s * dim);
    } finally {
      t.dispose();
    }
  }
  return { emb, dim };
}

function embedPlan(model: tf.LayersModel, x: Float32Array, shape: [number, number, number]) {
  const per = shape[0] * shape[1] * shape[2];
  const n = x.length / per;
  const dim = (model.outputs[0].shape[1] as number) ?? 0;
  return { n, per, dim, emb: new Float32Array(n * dim) };
}

function embedBatch(
  model: tf.LayersModel,
  x: Float32Array,
  shape: [number, number, number],
  per: number,
  s: number,
  e: number,
): tf.Tensor {
  return model.predict(tf.tensor4d(x.subarray(s * per, e * per), [e - s, ...shape])) as tf.Tensor;
}

export interface EvalReport {
  samples: number;
  classes: number;
  pairs: { genuine: number; impostor: number; folds: number };
  auc: number;
  eer: number;
  tarAtFar: TarAtFar[];
  tenFold: FoldAccuracy;
  rank: Record<number, number>;
  openSet: OpenSetResult[];
  geometry: GeometryStats;
  roc: RocCurve;
  /** Pair scores and labels (for histograms). */
  scores: Float64Array;
  same: Uint8Array;
}

export interface EvalOptions {
  folds?: number;
  /**
   * Genuine (and impostor) pairs per fold. Default 300 (LFW), or fewer where the data has fewer
   * genuine pairs; a number given here is used as is, and refused when the data cannot meet it.
   */
  perFold?: number;
  seed?: number;
}

/**
 * Pairs per fold when none is asked for: LFW's 300, or as many as the genuine pairs allow
 * (Σ over classes of n(n − 1)/2, shared by the folds) on a smaller set. A number given
 * explicitly is never lowered: verificationPairs refuses one the data cannot meet.
 */
function defaultPerFold(labels: Int32Array, folds: number): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  let genuine = 0;
  for (const n of counts.values()) genuine += (n * (n - 1)) / 2;
  return Math.max(1, Math.min(300, Math.floor(genuine / folds)));
}

/** Evaluates embeddings `emb` [n·dim] with labels. */
export function evaluateEmbeddings(
  emb: Float32Array,
  dim: number,
  labels: Int32Array,
  opts: EvalOptions = {},
): EvalReport {
  if (!(Number.isInteger(dim) && dim >= 1))
    throw new Error(
      `evaluateEmbeddings: dim must be a positive integer, got ${JSON.stringify(dim) ?? String(dim)}${typeof dim === 'string' ? ' (a string)' : ''}`,
    );
  if (emb.length !== labels.length * dim) {
    throw new Error(
      `evaluateEmbeddings: ${emb.length} embedding values do not match ${labels.length} labels × dim ${dim} (= ${labels.length * dim})`,
    );
  }
  const u = normalizeRows(emb, dim);
  const folds = opts.folds ?? 10;
  const pairs = verificationPairs(labels, {
    folds,
    perFold: opts.perFold ?? defaultPerFold(labels, folds),
    seed: opts.seed ?? 0,
  });
  const scores = pairScores(u, dim, pairs.a, pairs.b);
  const curve = roc(scores, pairs.same);
  // Identification: for each class, a third of its images form the gallery, the rest probe.
  const rng = new Rng((opts.seed ?? 0) + 7);
  const classes = [...new Set(Array.from(labels))].sort((a, b) => a - b);
  const galleryIdx: number[] = [];
  const probeIdx: number[] = [];
  for (const c of classes) {
    const idx: number[] = [];
    for (let i = 0; i < labels.length; i++) if (labels[i] === c) idx.push(i);
    rng.shuffle(idx);
    const g = Math.max(1, Math.floor(idx.length / 3));
    galleryIdx.push(...idx.slice(0, g));
    probeIdx.push(...idx.slice(g));
  }
  const rows = (idx: number[]) => {
    const out = new Float64Array(idx.length * dim);
    idx.forEach((i, k) => out.set(u.subarray(i * dim, (i + 1) * dim), k * dim));
    return out;
  };
  const gallery = rows(galleryIdx);
  const probes = rows(probeIdx);
  const gl = galleryIdx.map((i) => labels[i]);
  const pl = probeIdx.map((i) => labels[i]);
  const rank = rankKAccuracy(
    gallery,
    gl,
    probes,
    pl,
    dim,
    // rank-k with k ≥ the number of gallery identities is 100 % by construction: not reported.
    [1, 5].filter((k) => k < classes.length),
  );
  // Open set: the gallery holds only the first half of the classes; probes of the rest are unknown.
  const knownClasses = new Set(classes.slice(0, Math.max(1, Math.floor(classes.length / 2))));
  const kg = galleryIdx.filter((i) => knownClasses.has(labels[i]));
  const openSet =
    classes.length >= 2
      ? openSetIdentification(
          rows(kg),
          kg.map((i) => labels[i]),
          probes,
          pl,
          dim,
          [1e-1, 1e-2],
        )
      : [];
  return {
    samples: labels.length,
    classes: classes.length,
    pairs: { genuine: curve.positives, impostor: curve.negatives, folds },
    auc: auc(curve),
    eer: eer(curve).eer,
    tarAtFar: tarAtFar(curve),
    tenFold: kFoldAccuracy(scores, pairs.same, pairs.fold),
    rank,
    openSet,
    geometry: geometryStats(u, labels, dim),
    roc: curve,
    scores,
    same: pairs.same,
  };
}

/** A plain-text table of a report. */
export function formatReport(r: EvalReport, title = 'evaluation'): string {
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);
  const lines = [
    `${title}: ${r.samples} images, ${r.classes} classes, ${r.pairs.genuine} genuine + ${r.pairs.impostor} impostor pairs in ${r.pairs.folds} folds`,
    `  ${'10-fold accuracy'.padEnd(22)} ${pct(r.tenFold.mean)} ± ${(r.tenFold.std * 100).toFixed(2)}%`,
    `  ${'AUC'.padEnd(22)} ${r.auc.toFixed(4)}`,
    `  ${'EER'.padEnd(22)} ${pct(r.eer)}`,
    ...r.tarAtFar.map(
      (t) => `  ${`TAR @ FAR=${t.far.toExponential(0)}`.padEnd(22)} ${t.supported ? pct(t.tar) : `n/a (${t.note})`}`,
    ),
    ...Object.entries(r.rank).map(([k, v]) => `  ${`rank-${k} identification`.padEnd(22)} ${pct(v)}`),
    ...r.openSet.map(
      (o) => `  ${`DIR @ FAR=${o.far.toExponential(0)}`.padEnd(22)} ${o.supported ? pct(o.dir) : `n/a (${o.note})`}`,
    ),
    `  ${'mean angle to center'.padEnd(22)} ${(r.geometry.meanAngleToCenter.reduce((a, b) => a + b, 0) / r.geometry.meanAngleToCenter.length).toFixed(1)}°`,
    `  ${'min center angle'.padEnd(22)} ${r.geometry.minCenterAngle.degrees.toFixed(1)}° (classes ${r.geometry.minCenterAngle.pair.join(' & ')})`,
  ];
  return lines.join('\n');
}

/**
 * Small helpers that keep notebook cells short: the course's standard open-set split, a
 * one-call training run, and embeddings of a split. `MARGIN_LAB_QUICK=1` (set by the test
 * command) shrinks data and training so every notebook runs in CI time.
 */
import * as tf from '@tensorflow/tfjs';
import {
  ClassSubset,
  loadFashionMnist,
  loadHangulGlyphs,
  openSetSplit,
  OpenSetSplit,
  seededClassSplit,
  splitByFace,
} from './data';
import { ClassifierHead, EmbeddingLoss } from './losses';
import { BackboneName, BackboneSpec, buildBackbone } from './models';
import { classScores, EpochRow, train } from './train';
import { embedImages } from './eval';

/** True when MARGIN_LAB_QUICK=1: notebooks shrink their training. */
export function quickMode(): boolean {
  return process.env.MARGIN_LAB_QUICK === '1';
}

/** Fashion-MNIST, classes 0–4 seen and 5–9 unseen (smaller in quick mode). */
export function fashionOpenSet(
  opts: { seed?: number; trainPerClass?: number; testPerClass?: number } = {},
): OpenSetSplit {
  const quick = quickMode();
  return openSetSplit(loadFashionMnist({ split: 'train' }), loadFashionMnist({ split: 'test' }), {
    seen: [0, 1, 2, 3, 4],
    seed: opts.seed ?? 1,
    trainPerClass: opts.trainPerClass ?? (quick ? 300 : 2000),
    testPerClass: opts.testPerClass ?? (quick ? 100 : 600),
  });
}

/**
 * The Hangul glyph identities as an open-set split: a seeded 80 % of the first `identities`
 * syllables seen (default all 1,000 shipped; 100 in quick mode), trained in three quarters of the
 * faces; the other syllables unseen, tested in the held-out faces.
 */
export function glyphOpenSet(opts: { identities?: number; seed?: number } = {}): OpenSetSplit {
  const ds = loadHangulGlyphs();
  const n = Math.min(opts.identities ?? (quickMode() ? 100 : ds.meta.syllables.length), ds.meta.syllables.length);
  const { seen, unseen } = seededClassSplit(n, { seenFraction: 0.8, seed: opts.seed ?? 0 });
  const { train: trainFaces, test: testFaces } = splitByFace(ds, { seed: 0 });
  return openSetSplit(trainFaces, testFaces, { seen, unseen, seed: opts.seed ?? 0 });
}

export interface RunResult {
  model: tf.LayersModel;
  loss: EmbeddingLoss;
  history: EpochRow[];
  spec: BackboneSpec;
}

/** Trains a backbone with a loss on the split's seen classes. */
export async function trainEmbedding(
  split: OpenSetSplit,
  loss: EmbeddingLoss,
  opts: {
    dim: number;
    backbone?: BackboneName;
    epochs?: number;
    lr?: number;
    width?: number;
    seed?: number;
    batchSize?: number;
  },
): Promise<RunResult> {
  const quick = quickMode();
  // Full mode: the benchmark's small CNN, a few minutes per model on a laptop CPU (wasm).
  const spec: BackboneSpec = {
    name: opts.backbone ?? (quick ? 'mlp' : 'reference'),
    inputShape: split.train.shape,
    embeddingDim: opts.dim,
    width: opts.width ?? 0.5,
    seed: opts.seed ?? 1,
  };
  const model = buildBackbone(spec);
  const result = await train({
    model,
    backbone: spec,
    loss,
    data: { x: split.train.x, y: split.train.localY, shape: split.train.shape },
    epochs: opts.epochs ?? (quick ? 8 : 4),
    batchSize: opts.batchSize ?? 128,
    lr: opts.lr ?? 3e-3,
    seed: opts.seed ?? 1,
  });
  return { model, loss, history: result.history, spec };
}

/** Embeddings [n][d] of a class subset, with its labels. */
export function embedSet(
  model: tf.LayersModel,
  set: ClassSubset,
): { points: number[][]; labels: number[]; localLabels: number[]; flat: Float32Array; dim: number } {
  const { emb, dim } = embedImages(model, set.x, set.shape);
  const n = set.y.length;
  const points = Array.from({ length: n }, (_, i) => Array.from(emb.subarray(i * dim, (i + 1) * dim)));
  return { points, labels: Array.from(set.y), localLabels: Array.from(set.localY), flat: emb, dim };
}

/** A head's class weights W [D][C] as plain arrays (for plots). */
export function headWeights(head: EmbeddingLoss): number[][] {
  const W = (head as Partial<ClassifierHead>).W;
  if (!W) throw new Error(`${head.name} has no class weights`);
  return W.arraySync() as number[][];
}

/** Closed-set predictions: the class with the highest cosine (or logit, for softmax). */
export function predictClasses(head: ClassifierHead, points: number[][]): number[] {
  return tf.tidy(() => {
    const e = tf.tensor2d(points);
    return Array.from(tf.argMax(classScores(head, e), 1).dataSync());
  });
}

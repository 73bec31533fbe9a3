/**
 * Small helpers that keep notebook cells short: the course's standard open-set split, a
 * one-call training run, and embeddings of a split. `MARGIN_LAB_QUICK=1` (set by the test
 * command) shrinks data and training so every notebook runs in CI time.
 */
import * as tf from './tf';
import {
  ClassSubset,
  loadFashionMnist,
  loadHangulGlyphs,
  openSetSplit,
  OpenSetSplit,
  seededClassSplit,
  splitByFace,
  GLYPH_FACE_SPLIT_SEED,
  loadNamedDataset,
} from './data';
import { ClassifierHead, EmbeddingLoss } from './losses';
import { BackboneName, BackboneSpec, buildBackbone } from './models';
import { classScores, EpochRow, ProgressMode, train } from './train';
import { embedImages } from './eval';
import { inNotebook } from './util/notebook';
import { tidyRead } from './util/read';

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
 * MNIST, digits 0–7 seen and 8–9 unseen: the split of the course's 2-D and 3-D feature
 * pictures (notebook 03 and the flagship figures), where closed-set accuracy is high enough for
 * the geometry to show. 700 training and 150 test images per digit (150 and 50 in quick mode).
 */
export function mnistOpenSet(
  opts: { seed?: number; trainPerClass?: number; testPerClass?: number } = {},
): OpenSetSplit {
  const quick = quickMode();
  const { train, test } = loadNamedDataset('mnist');
  return openSetSplit(train, test, {
    seen: [0, 1, 2, 3, 4, 5, 6, 7],
    seed: opts.seed ?? 1,
    trainPerClass: opts.trainPerClass ?? (quick ? 150 : 700),
    testPerClass: opts.testPerClass ?? (quick ? 50 : 150),
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
  const { train: trainFaces, test: testFaces } = splitByFace(ds, { seed: GLYPH_FACE_SPLIT_SEED });
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
    /** Progress display (default: the trainer's, a live line). */
    progress?: ProgressMode;
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
    ...(opts.progress !== undefined ? { progress: opts.progress } : {}),
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
  return Array.from(
    tidyRead(() => {
      const e = tf.tensor2d(points);
      return tf.argMax(classScores(head, e), 1);
    }),
  );
}

/** Values `checkAgainst` compares: a number, a (nested) array of numbers, or a tensor. */
export type Checkable = number | readonly number[] | readonly (readonly number[])[] | Float32Array | tf.Tensor;

export interface CheckResult {
  /** False when `yours` was null or undefined (the exercise is not done yet). */
  implemented: boolean;
  pass: boolean;
  /** Largest |yours − reference| over all elements (NaN when the shapes differ). */
  maxDiff: number;
  /** Flat index of that element. */
  worstIndex: number;
  /** The line printed. */
  line: string;
}

async function valuesAndShape(v: Checkable, what: string): Promise<{ values: number[]; shape: number[] }> {
  if (v instanceof tf.Tensor) return { values: Array.from(await v.data()), shape: v.shape };
  if (typeof v === 'number') return { values: [v], shape: [] };
  if (v instanceof Float32Array) return { values: Array.from(v), shape: [v.length] };
  if (Array.isArray(v)) {
    if (v.length > 0 && Array.isArray(v[0])) {
      const rows = v as readonly (readonly number[])[];
      const width = rows[0].length;
      const bad = rows.findIndex((r) => !Array.isArray(r) || r.length !== width);
      if (bad >= 0) throw new Error(`checkAgainst: ${what} is a ragged array (row ${bad} has not ${width} values)`);
      return { values: rows.flat(), shape: [rows.length, width] };
    }
    return { values: Array.from(v as readonly number[]), shape: [v.length] };
  }
  throw new Error(`checkAgainst: ${what} must be a number, an array of numbers or a tensor, got ${typeof v}`);
}

/**
 * What a failed `checkAgainst` does. `'strict'`: it throws, so the notebook stops at that cell
 * (tests, the notebook runner, the course site, the solutions). `'student'`: it prints the ✗ line
 * with the details and returns `pass: false`, so Run All goes on while a student works through
 * the exercises.
 */
export type CheckMode = 'strict' | 'student';

let chosenCheckMode: CheckMode | undefined;

/** Chooses the check mode for this process (a solutions notebook sets 'strict' in its first cell). */
export function setCheckMode(mode: CheckMode): void {
  if (mode !== 'strict' && mode !== 'student')
    throw new Error(`setCheckMode: expected 'strict' or 'student', got ${JSON.stringify(mode)}`);
  chosenCheckMode = mode;
}

/**
 * The check mode in force: `MARGIN_LAB_CHECKS=strict` first (the notebook runner and the course
 * builder set it, so CI runs every check strictly), then `setCheckMode`, then
 * `MARGIN_LAB_CHECKS=student`, then 'student' inside a notebook kernel and 'strict' elsewhere.
 */
export function checkMode(): CheckMode {
  const env = process.env.MARGIN_LAB_CHECKS;
  if (env !== undefined && env !== 'strict' && env !== 'student')
    throw new Error(`MARGIN_LAB_CHECKS=${env}: expected strict or student`);
  if (env === 'strict') return 'strict';
  if (chosenCheckMode) return chosenCheckMode;
  if (env === 'student') return 'student';
  return inNotebook() ? 'student' : 'strict';
}

/**
 * Compares your implementation with a reference (usually margin-lab's), element by element, and prints one line: ✓ with
 * the largest difference, or ✗ with where it is and both values. Passing means the same shape and
 * |yours − reference| ≤ tolerance · max(1, |reference|) everywhere (NaN only where the reference is
 * NaN). A failed check throws in strict mode, so a wrong answer stops the notebook at that cell,
 * and prints ✗ and returns in student mode ({@link checkMode}). `yours` null or undefined (an
 * exercise not done yet) prints a reminder and does not throw.
 */
export async function checkAgainst(
  yours: Checkable | null | undefined,
  reference: Checkable,
  opts: { tolerance?: number; label?: string } = {},
): Promise<CheckResult> {
  const label = opts.label ?? 'your implementation';
  const tolerance = opts.tolerance ?? 1e-5;
  if (!(tolerance >= 0)) throw new Error(`checkAgainst: tolerance must be ≥ 0, got ${tolerance}`);
  if (yours === null || yours === undefined) {
    const line = `… ${label}: not implemented yet (fill in the cell above, then run this one again)`;
    console.log(line);
    return { implemented: false, pass: false, maxDiff: NaN, worstIndex: -1, line };
  }
  const a = await valuesAndShape(yours, 'yours');
  const b = await valuesAndShape(reference, 'the reference');
  const mode = checkMode();
  const fail = (line: string, maxDiff: number, worstIndex: number): CheckResult => {
    const result = { implemented: true, pass: false, maxDiff, worstIndex, line };
    if (mode === 'student') {
      console.log(`${line}\n  (student mode: the notebook goes on; fix the cell above and run this one again)`);
      return result;
    }
    console.log(line);
    throw Object.assign(new Error(line), { result });
  };
  if (a.shape.join(',') !== b.shape.join(','))
    return fail(`✗ ${label}: shape [${a.shape.join(', ')}], the reference's is [${b.shape.join(', ')}]`, NaN, -1);
  let maxDiff = 0;
  let worstIndex = 0;
  let worstScaled = 0;
  for (let i = 0; i < b.values.length; i++) {
    const [x, y] = [a.values[i], b.values[i]];
    if (Number.isNaN(y) && Number.isNaN(x)) continue;
    const d = Math.abs(x - y);
    const scaled = Number.isNaN(d) ? Infinity : d / Math.max(1, Math.abs(y));
    if (scaled > worstScaled) {
      worstScaled = scaled;
      worstIndex = i;
    }
    if (!(d <= maxDiff)) maxDiff = Number.isNaN(d) ? NaN : Math.max(maxDiff, d);
  }
  const at =
    b.shape.length > 1
      ? ` at [${Math.floor(worstIndex / b.shape[1])}, ${worstIndex % b.shape[1]}]`
      : b.shape.length === 1
        ? ` at [${worstIndex}]`
        : '';
  if (worstScaled > tolerance)
    return fail(
      `✗ ${label}: differs${at}: yours ${a.values[worstIndex]}, reference ${b.values[worstIndex]} (difference ${Math.abs(a.values[worstIndex] - b.values[worstIndex]).toExponential(2)}, tolerance ${tolerance})`,
      maxDiff,
      worstIndex,
    );
  const line = `✓ ${label}: ${b.values.length === 1 ? 'agrees' : `all ${b.values.length} values agree`}, largest difference ${maxDiff.toExponential(2)} (tolerance ${tolerance})`;
  console.log(line);
  return { implemented: true, pass: true, maxDiff, worstIndex, line };
}

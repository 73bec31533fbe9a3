/**
 * The shared shape of every loss, and the base class of the margin-softmax family.
 *
 * Calling convention (as in pytorch-metric-learning): `loss.compute(embeddings [N, D], labels [N])`
 * returns a scalar tensor (the batch mean). Margin-softmax losses own their class weights
 * W [D, C] (`trainableVariables`), and expose `logits()` and `cosines()` for evaluation and plots.
 */
import * as tf from '../tf';
import { cosineMatrix, marginCrossEntropy, softmaxCrossEntropy, targetEntries } from './ops';
import { spreadDirections } from './init';
import { checkEmbeddings, checkPositiveInteger, LabelsLike, LossInputError, readLabels } from './validate';
import { tidyRead } from '../util/read';
import { specConfig, type LossSpec } from './spec';

export type { LabelsLike } from './validate';

export interface ComputeOptions {
  /**
   * Training mode updates running statistics (CurricularFace t, AdaFace norm statistics,
   * center-loss centers). Defaults to the loss's `training` flag (true after construction).
   */
  training?: boolean;
  /**
   * Called during compute() with the class scores [N, C] it derives on the way (the cosines of
   * the margin heads, as `scores()` returns them), so that a caller that wants both, as the
   * trainer's batch accuracy does, computes them once. Heads whose loss does not pass through
   * the scores do not call it. The tensor is disposed when compute() returns unless kept.
   */
  onScores?: (scores: tf.Tensor2D) => void;
}

/** Anything that maps (embeddings, labels) to a scalar loss. */
export interface EmbeddingLoss {
  readonly name: string;
  /** Mean loss over the batch; call inside tf.tidy / an optimizer's minimize. */
  compute(embeddings: tf.Tensor2D, labels: LabelsLike, options?: ComputeOptions): tf.Scalar;
  /** Variables the optimizer trains together with the network (W for classifier heads). */
  readonly trainableVariables: tf.Variable[];
  /** Whether compute() updates running statistics by default. */
  training: boolean;
  /** Advance per-iteration schedules (SphereFace λ); no-op for most losses. */
  step(): void;
  /** Hyperparameters, for checkpoints and reports. */
  config(): Record<string, unknown>;
  /** Every variable that defines the loss's state (trained weights and running statistics), by name. */
  stateDict(): Record<string, tf.Variable>;
  /** Restores non-tensor state (schedules) from a `config()` saved in a checkpoint. */
  loadConfigState?(config: Record<string, unknown>): void;
  /** Numbers the trainer records every epoch (SphereFace λ, CurricularFace t, the margin warm-up, ...). */
  stats?(): Record<string, number>;
  dispose(): void;
}

/** A classifier-style loss with class weights. */
export interface ClassifierHead extends EmbeddingLoss {
  /**
   * Class scores [N, C] whose argmax is the predicted class (training accuracy, identification):
   * the logits of the plain softmax heads, the cosines of the normalized ones.
   */
  scores(embeddings: tf.Tensor2D): tf.Tensor2D;
  readonly numClasses: number;
  readonly embeddingDim: number;
  /** Class weights [D, C·K] (K sub-centers, 1 for most heads). */
  readonly W: tf.Variable;
  /** The logits the cross-entropy sees (scaled and margin-modified; labels pick the targets). */
  logits(embeddings: tf.Tensor2D, labels: LabelsLike, options?: ComputeOptions): tf.Tensor2D;
  /** cos θ between each embedding and each class [N, C] (max over sub-centers). */
  cosines(embeddings: tf.Tensor2D): tf.Tensor2D;
}

export interface HeadOptions {
  numClasses: number;
  embeddingDim: number;
  /** Initial class weights [D, C] (default: drawn as `init` says, from `seed`). */
  weights?: tf.Tensor2D | number[][];
  /**
   * How the class weights start when `weights` is not given: `'normal'`, Glorot-normal random
   * directions, or `'spread'`, directions spread evenly over the sphere (`spreadDirections`).
   * Default: `'spread'` for embeddingDim ≤ 3, where random weights often start classes close
   * together and training can settle with classes on the far side of their own weight;
   * `'normal'` above that. Both have the Glorot-normal column length √(2D / (D + C)).
   */
  init?: WeightInit;
  /** Seed for the initial weights (default 42). */
  seed?: number;
}

export type WeightInit = 'normal' | 'spread';

export interface MarginWarmupOptions {
  /** Steps over which the margin ramps linearly from 0 to its full value (an integer ≥ 1). */
  steps: number;
  /** Steps already taken (a restored run goes on where it stopped; default 0). */
  iteration?: number;
}

/** Losses whose margin can warm up take this option. */
export interface MarginWarmupArgs {
  /**
   * Ramp the margin linearly from 0 over `steps` optimizer steps (default: off, the full margin
   * from the first step): at step k the margin is m·min(1, k / steps). A common remedy when a
   * large margin with a large scale stalls a fresh network (notebook 11).
   */
  marginWarmup?: MarginWarmupOptions;
}

/** The margin's linear warm-up: factor(k) = min(1, k / steps), k = steps taken. */
export class MarginWarmup {
  readonly steps: number;
  iteration = 0;

  constructor(loss: string, opts: MarginWarmupOptions) {
    if (typeof opts !== 'object' || opts === null || Array.isArray(opts))
      throw new LossInputError(`${loss}: marginWarmup must be an object { steps, iteration? }, got ${String(opts)}`);
    const unknown = Object.keys(opts).filter((k) => k !== 'steps' && k !== 'iteration');
    if (unknown.length)
      throw new LossInputError(`${loss}: marginWarmup takes steps and iteration, not ${unknown.join(', ')}`);
    if (typeof opts.steps !== 'number' || !Number.isInteger(opts.steps) || opts.steps < 1)
      throw new LossInputError(
        `${loss}: marginWarmup.steps must be an integer ≥ 1 (steps over which m ramps up), got ${JSON.stringify(opts.steps)}`,
      );
    this.steps = opts.steps;
    if (opts.iteration !== undefined) {
      if (typeof opts.iteration !== 'number' || !Number.isInteger(opts.iteration) || opts.iteration < 0)
        throw new LossInputError(
          `${loss}: marginWarmup.iteration must be an integer ≥ 0, got ${JSON.stringify(opts.iteration)}`,
        );
      this.iteration = opts.iteration;
    }
  }

  /** The fraction of the margin in use now. */
  get factor(): number {
    return Math.min(1, this.iteration / this.steps);
  }

  step(): void {
    this.iteration += 1;
  }

  config(): MarginWarmupOptions {
    return { steps: this.steps, iteration: this.iteration };
  }
}

/** The initialisation a head uses when no `weights` are given (the one place the default is resolved). */
export function resolveWeightInit(loss: string, opts: HeadOptions): WeightInit {
  if (opts.init === undefined) return opts.embeddingDim <= 3 ? 'spread' : 'normal';
  if (opts.init !== 'normal' && opts.init !== 'spread')
    throw new LossInputError(`${loss}: init must be 'normal' or 'spread', got ${JSON.stringify(opts.init)}`);
  return opts.init;
}

/** The most values one class-weight (or center) matrix may hold: 2^28 float32, 1 GiB. */
export const MAX_HEAD_ELEMENTS = 2 ** 28;

/** Refuses a [rows, columns] parameter matrix too large to allocate, before allocating it. */
export function checkHeadSize(loss: string, what: string, rows: number, columns: number): void {
  if (rows * columns > MAX_HEAD_ELEMENTS)
    throw new LossInputError(
      `${loss}: ${what} would hold ${rows} × ${columns} = ${rows * columns} values (${((rows * columns * 4) / 2 ** 30).toFixed(1)} GiB), more than the ${MAX_HEAD_ELEMENTS} (1 GiB) margin-lab allocates for one matrix; check numClasses and embeddingDim`,
    );
}

/** Creates the class-weight variable [D, columns]. */
export function createWeights(loss: string, opts: HeadOptions, columns: number): tf.Variable {
  checkPositiveInteger(loss, 'numClasses', opts.numClasses);
  checkPositiveInteger(loss, 'embeddingDim', opts.embeddingDim);
  if (opts.numClasses < 2)
    throw new LossInputError(
      `${loss}: numClasses must be at least 2 (a classifier needs two classes to tell apart), got ${opts.numClasses}`,
    );
  if (opts.seed !== undefined && !(typeof opts.seed === 'number' && Number.isSafeInteger(opts.seed) && opts.seed >= 0))
    throw new LossInputError(
      `${loss}: seed must be an integer ≥ 0, got ${typeof opts.seed === 'number' ? String(opts.seed) : JSON.stringify(opts.seed)}`,
    );
  const D = opts.embeddingDim;
  checkHeadSize(
    loss,
    `the class weights [embeddingDim, ${columns === opts.numClasses ? 'numClasses' : 'numClasses × sub-centers'}]`,
    D,
    columns,
  );
  return tf.tidy(() => {
    let w: tf.Tensor2D;
    if (opts.weights !== undefined && opts.init !== undefined)
      throw new LossInputError(`${loss}: give weights or init, not both (init only chooses how weights are drawn)`);
    if (opts.weights !== undefined) {
      w = opts.weights instanceof tf.Tensor ? opts.weights.clone() : tf.tensor2d(opts.weights);
      if (w.rank === 2 && w.shape[0] === D && w.shape[1] === columns) {
        const vals = w.dataSync();
        const bad = vals.findIndex((v) => !Number.isFinite(v));
        if (bad >= 0)
          throw new LossInputError(
            `${loss}: weights must be finite, got ${vals[bad]} at row ${Math.floor(bad / columns)}, column ${bad % columns}`,
          );
      }
      if (w.rank !== 2 || w.shape[0] !== D || w.shape[1] !== columns) {
        throw new LossInputError(
          `${loss}: weights must have shape [${D}, ${columns}] (embeddingDim × classes${columns !== opts.numClasses ? ' × sub-centers' : ''}), got [${w.shape.join(', ')}]`,
        );
      }
    } else if (resolveWeightInit(loss, opts) === 'spread') {
      const length = Math.sqrt((2 * D) / (D + columns));
      const dirs = spreadDirections(D, columns, opts.seed ?? 42);
      w = tf.tensor2d(Array.from({ length: D }, (_, k) => dirs.map((v) => length * v[k])));
    } else {
      const std = Math.sqrt(2 / (D + columns));
      w = tf.randomNormal([D, columns], 0, std, 'float32', opts.seed ?? 42);
    }
    return tf.variable(w, true, undefined);
  });
}

/**
 * Base of the softmax family on normalized features: logits are built from the cosine matrix,
 * with the target column replaced by a function of cos θ_y (the margin) and the result scaled.
 * A head implements `target()` and names its `spec` (`config()` follows from it); it may override `negatives()` (CurricularFace,
 * AdaFace), `scale()` (SphereFace's ‖x‖; the default is `s`), `updateState()` (running
 * statistics) and `stats()`. `Ctx` is the context `target()` takes (AdaFace adds its norm score).
 */
export abstract class CosineHead<Ctx extends TargetContext = TargetContext> implements ClassifierHead {
  abstract readonly name: string;
  /** The loss's declaration (its `defineLoss` spec), from which `config()` is derived. */
  abstract readonly spec: LossSpec;
  /** The scale s of the logits. */
  abstract readonly s: number;
  readonly numClasses: number;
  readonly embeddingDim: number;
  readonly W: tf.Variable;
  training = true;
  /** Sub-centers per class (1 unless sub-center ArcFace). */
  protected readonly subCenters: number;
  /** The margin's warm-up, for heads that take `marginWarmup` (see `initMarginWarmup`). */
  protected marginWarmup?: MarginWarmup;

  constructor(opts: HeadOptions, subCenters = 1, lossName = 'head') {
    checkPositiveInteger(lossName, 'subCenters', subCenters);
    this.numClasses = opts.numClasses;
    this.embeddingDim = opts.embeddingDim;
    this.subCenters = subCenters;
    this.W = createWeights(lossName, opts, opts.numClasses * subCenters);
  }

  get trainableVariables(): tf.Variable[] {
    return [this.W];
  }

  step(): void {
    this.marginWarmup?.step();
  }

  /** Called by the constructors of heads whose margin can warm up. */
  protected initMarginWarmup(loss: string, opts: MarginWarmupOptions | undefined): void {
    if (opts !== undefined) this.marginWarmup = new MarginWarmup(loss, opts);
  }

  /** The fraction of the margin in use now: 1 without a warm-up. */
  get marginFactor(): number {
    return this.marginWarmup?.factor ?? 1;
  }

  /** The warm-up's part of `config()` (nothing when there is none). */
  protected warmupConfig(): { marginWarmup?: MarginWarmupOptions } {
    return this.marginWarmup ? { marginWarmup: this.marginWarmup.config() } : {};
  }

  loadConfigState(config: Record<string, unknown>): void {
    const it = (config.marginWarmup as { iteration?: unknown } | undefined)?.iteration;
    if (this.marginWarmup && typeof it === 'number' && Number.isInteger(it) && it >= 0)
      this.marginWarmup.iteration = it;
  }

  stateDict(): Record<string, tf.Variable> {
    return { W: this.W };
  }

  /**
   * The target entry in cos space, as a function of cos θ_y [N] (before scaling). `embeddings`
   * and `training` are there for losses whose margin depends on the sample (AdaFace).
   */
  protected abstract target(cosY: tf.Tensor1D, ctx: Ctx): tf.Tensor1D;

  /** Hook for modifying the non-target cosines (CurricularFace, AdaFace); default unchanged. */
  protected negatives(cos: tf.Tensor2D, _ctx: NegativesContext<Ctx>): tf.Tensor2D {
    return cos;
  }

  /** Multiplier of the logits: the scale s, or per row (SphereFace's ‖x‖ overrides this). */
  protected scale(_embeddings: tf.Tensor2D): number | tf.Tensor2D {
    return this.s;
  }

  /** The cosines are the class scores (argmax = nearest class weight in angle). */
  scores(embeddings: tf.Tensor2D): tf.Tensor2D {
    return this.cosines(embeddings);
  }

  /** The margin warm-up's factor, when the head has one. */
  stats(): Record<string, number> {
    return this.marginWarmup ? { marginFactor: this.marginWarmup.factor } : {};
  }

  /** Called once per compute() in training mode, before the logits (running statistics). */
  protected updateState(_cosY: tf.Tensor1D, _embeddings: tf.Tensor2D): void {}

  /**
   * The spec's options with their values (read from the fields of the same name), the classifier's
   * shape and the warm-up; a head with state beyond its options adds it.
   */
  config(): Record<string, unknown> {
    return { ...specConfig(this.spec, this, this), ...this.warmupConfig() };
  }

  cosines(embeddings: tf.Tensor2D): tf.Tensor2D {
    checkEmbeddings(this.name, embeddings, this.embeddingDim);
    return tf.tidy(() => {
      const all = cosineMatrix(embeddings, this.W as tf.Tensor2D);
      if (this.subCenters === 1) return all;
      const [n] = embeddings.shape;
      return tf.max(tf.reshape(all, [n, this.numClasses, this.subCenters]), 2) as tf.Tensor2D;
    });
  }

  /**
   * The target curve in cos space: f(θ) for θ in radians, from the same code as the loss (for
   * plots and the monotonicity test). Uses the current state (λ, t, running statistics).
   */
  targetCurve(theta: ArrayLike<number>, ctx: Partial<Ctx> = {}): number[] {
    return Array.from(
      tidyRead(() => {
        const c = tf.tensor1d(Array.from(theta, (t) => Math.cos(t)));
        const n = c.shape[0];
        const fake = tf.zeros([n, this.embeddingDim]) as tf.Tensor2D;
        return this.target(c, { embeddings: fake, training: false, ...ctx } as Ctx);
      }),
    );
  }

  logits(embeddings: tf.Tensor2D, labels: LabelsLike, options: ComputeOptions = {}): tf.Tensor2D {
    return tf.tidy(() => this.mix(this.parts(embeddings, labels, options), this.scale(embeddings)));
  }

  compute(embeddings: tf.Tensor2D, labels: LabelsLike, options: ComputeOptions = {}): tf.Scalar {
    return tf.tidy(() => {
      const parts = this.parts(embeddings, labels, options);
      options.onScores?.(parts.cos);
      const scale = this.scale(embeddings);
      // A per-row scale (SphereFace's ‖x‖) goes through the logits and autodiff.
      if (typeof scale !== 'number') return softmaxCrossEntropy(this.mix(parts, scale), parts.oneHot);
      return marginCrossEntropy(parts.others, parts.targetY, parts.oneHot, scale);
    });
  }

  /** The pieces of the logits; call inside tf.tidy. */
  private parts(
    embeddings: tf.Tensor2D,
    labels: LabelsLike,
    options: ComputeOptions,
  ): { cos: tf.Tensor2D; oneHot: tf.Tensor2D; targetY: tf.Tensor1D; others: tf.Tensor2D } {
    checkEmbeddings(this.name, embeddings, this.embeddingDim);
    const lab = readLabels(this.name, labels, embeddings.shape[0], this.numClasses);
    const training = options.training ?? this.training;
    const cos = this.cosines(embeddings);
    const oneHot = tf.oneHot(lab.tensor, this.numClasses).toFloat() as tf.Tensor2D;
    const cosY = targetEntries(cos, oneHot);
    if (training) this.updateState(cosY, embeddings);
    const ctx = { embeddings, training } as Ctx;
    const targetY = this.target(cosY, ctx);
    const others = this.negatives(cos, { ...ctx, cosY, targetY, oneHot });
    return { cos, oneHot, targetY, others };
  }

  /** The logits from the parts: non-target entries keep their (possibly modulated) cosine, the target gets f(cos θ_y). */
  private mix(
    p: { oneHot: tf.Tensor2D; targetY: tf.Tensor1D; others: tf.Tensor2D },
    scale: number | tf.Tensor2D,
  ): tf.Tensor2D {
    const { oneHot, targetY, others } = p;
    const mixed = tf.add(tf.mul(others, tf.sub(1, oneHot)), tf.mul(oneHot, tf.expandDims(targetY, 1)));
    return tf.mul(mixed, scale) as tf.Tensor2D;
  }

  dispose(): void {
    this.W.dispose();
  }
}

/** What `target()` sees besides cos θ_y. */
export interface TargetContext {
  embeddings: tf.Tensor2D;
  training: boolean;
}

/** What `negatives()` sees: the target context, cos θ_y [N], the target entries f(cos θ_y) [N] and the one-hot labels [N, C]. */
export type NegativesContext<Ctx extends TargetContext = TargetContext> = Ctx & {
  cosY: tf.Tensor1D;
  targetY: tf.Tensor1D;
  oneHot: tf.Tensor2D;
};

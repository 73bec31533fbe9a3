/**
 * One training loop for every loss: classifier heads (softmax family, with their W) and
 * pair/triplet losses (P×K batches). Gradients are computed, checked for NaN/Inf, and only
 * then applied — a diverging run stops with the step, the loss and a hint, and the weights are
 * left as they were before the bad step.
 */
import * as path from 'path';
import * as tf from '../tf';
import { DecayedMomentumOptimizer } from './sgd';
import { readable } from '../util/read';
import { BackboneSpec } from '../models';
import { EmbeddingLoss, ClassifierHead, lossStats } from '../losses';
import { pkBatches } from '../data/pairs';
import { Rng } from '../util/random';
import { requireDanfo } from '../util/danfo';
import type { DataFrameLike } from '../util/dataframe';
import { lockFolder, removeStaleFolderTemps } from '../util/fs';
import { PROGRESS_MODES, ProgressMode, ProgressReporter } from './progress';
import {
  loadLossState,
  loadModelWeights,
  optimizerWeights,
  readCheckpoint,
  checkRunFolder,
  restoreOptimizerState,
  saveCheckpoint,
} from './checkpoint';
import { OPTIMIZER_NAMES, OptimizerName, SCHEDULE_OPTIONS, SCHEDULE_TYPES, TRAIN_OPTIONS } from './options';
import { checkDeclared, OptionDecl, showValue as show } from '../util/option-decl';

export { OPTIMIZER_NAMES, SCHEDULE_TYPES };
export type { OptimizerName };

export interface ScheduleOptions {
  type: (typeof SCHEDULE_TYPES)[number];
  /** Linear warm-up from lr/steps to lr over this many steps (default 0). */
  warmupSteps?: number;
  /** 'step': multiply by gamma every stepEpochs epochs. */
  stepEpochs?: number;
  gamma?: number;
  /** 'cosine': final lr as a fraction of lr (default 0). */
  minFactor?: number;
}

/** Learning rate at a step (0-based) of a run of totalSteps, stepsPerEpoch steps each epoch. */
export function learningRateAt(
  lr: number,
  s: ScheduleOptions,
  step: number,
  stepsPerEpoch: number,
  totalSteps: number,
): number {
  const warm = s.warmupSteps ?? 0;
  if (step < warm) return (lr * (step + 1)) / warm;
  if (s.type === 'step') {
    const epoch = Math.floor(step / stepsPerEpoch);
    return lr * Math.pow(s.gamma ?? 0.1, Math.floor(epoch / (s.stepEpochs ?? 10)));
  }
  if (s.type === 'cosine') {
    const progress = (step - warm) / Math.max(1, totalSteps - warm);
    const min = (s.minFactor ?? 0) * lr;
    return min + 0.5 * (lr - min) * (1 + Math.cos(Math.PI * Math.min(1, progress)));
  }
  return lr;
}

export class TrainingDivergedError extends Error {
  constructor(
    readonly epoch: number,
    readonly step: number,
    readonly loss: number,
    hint: string,
  ) {
    super(
      `training diverged at epoch ${epoch}, step ${step}: ${hint}. The update was not applied; weights are those before this step.`,
    );
    this.name = 'TrainingDivergedError';
  }
}

/**
 * Thrown by `train()` when its `signal` is aborted (Ctrl-C in the CLI). Training stops after the
 * step in progress; the checkpoint on disk is the last complete epoch's, never a partial one.
 */
export class TrainingInterruptedError extends Error {
  constructor(
    /** The epoch and step (1-based, within the epoch) that had just finished. */
    readonly epoch: number,
    readonly step: number,
    /** The last epoch whose checkpoint was written (0: none yet), and the file. */
    readonly savedEpoch: number,
    readonly checkpoint: string | undefined,
  ) {
    super(
      `training interrupted at epoch ${epoch}, step ${step}: ${
        checkpoint
          ? savedEpoch > 0
            ? `${checkpoint} holds epoch ${savedEpoch}`
            : `no epoch had finished, so no checkpoint was written`
          : 'no run folder, nothing was saved'
      }`,
    );
    this.name = 'TrainingInterruptedError';
  }
}

export interface TrainData {
  /** Images, row-major [n, h, w, c]. */
  x: Float32Array;
  /** Labels 0..numClasses−1 (for classifier heads) or any identity ids (pair losses). */
  y: Int32Array;
  shape: [number, number, number];
}

export interface TrainOptions {
  model: tf.LayersModel;
  /** Spec the model was built from (stored in checkpoints). */
  backbone: BackboneSpec;
  loss: EmbeddingLoss;
  data: TrainData;
  epochs: number;
  batchSize?: number;
  optimizer?: OptimizerName;
  /** Default 1e-3 for Adam, 0.05 for SGD. */
  lr?: number;
  /** SGD momentum (default 0.9; SGD only). */
  momentum?: number;
  /** Nesterov momentum (default false; SGD only), as PyTorch's `SGD(nesterov=True)`. */
  nesterov?: boolean;
  /**
   * Weight decay (default 0). SGD: coupled L2, the gradient gets `weightDecay · w` before the
   * momentum step, as PyTorch's `SGD(weight_decay=…)`. Adam: decoupled, as AdamW — every weight
   * is first shrunk by `(1 − lr · weightDecay)`, then the Adam step is taken. It applies to every
   * trained variable: the backbone's kernels, biases and BatchNorm γ/β, and the loss's class
   * weights (one weight_decay for all parameters, as insightface's arcface_torch does). BN's
   * moving statistics are not trained and not decayed.
   */
  weightDecay?: number;
  schedule?: ScheduleOptions;
  /** P×K batches (default for contrastive/triplet losses: P = min(identities, batchSize / 4), K = batchSize / P). */
  pk?: { P: number; K: number };
  seed?: number;
  /** Cap steps per epoch (quick runs). */
  maxStepsPerEpoch?: number;
  progress?: ProgressMode;
  /** Write `checkpoint.json` here after every epoch. */
  runDir?: string;
  /** Continue from this checkpoint file. */
  resume?: string;
  /** Extra facts recorded in the checkpoint (dataset, classes, ...). */
  meta?: Record<string, unknown>;
  /**
   * Batch accuracy every n steps (classifier heads; default 1, 0 turns it off). It is read from
   * the training step's own embeddings (class scores under the weights of that step), so it
   * costs one small [batch × classes] product, not a forward pass.
   */
  accuracyEvery?: number;
  onEpochEnd?: (row: EpochRow) => void;
  /**
   * Called after every training step with that step's loss (already read from the backend), and
   * awaited before the next step: a notebook can embed a probe set at chosen steps to watch the
   * geometry move. The model is in inference mode inside the call (BatchNorm uses its moving
   * statistics), as in `embedImages`. Tensors it creates are its own to dispose.
   */
  onStep?: (row: StepRow) => void | Promise<void>;
  /**
   * Stops training when aborted: after the step in progress (and after a checkpoint write in
   * progress), `train()` throws a {@link TrainingInterruptedError} naming what was saved.
   */
  signal?: AbortSignal;
}

export interface StepRow {
  /** Epoch (1-based) and step within it (1-based). */
  epoch: number;
  step: number;
  /** Steps done since the start of training (1-based), counting resumed ones. */
  globalStep: number;
  loss: number;
  lr: number;
  /** Batch accuracy where it was computed this step (see `accuracyEvery`). */
  accuracy?: number;
}

export interface EpochRow {
  epoch: number;
  loss: number;
  accuracy: number;
  lr: number;
  samplesPerSec: number;
  seconds: number;
  [extra: string]: number;
}

export interface TrainResult {
  history: EpochRow[];
  steps: number;
  /** danfo DataFrame of `history` (one row per epoch). */
  historyFrame(): DataFrameLike;
  checkpoint?: string;
  /** Things that went wrong without stopping the run (e.g. accuracy at chance level); also printed. */
  warnings: string[];
}

function isClassifier(loss: EmbeddingLoss): loss is ClassifierHead {
  return (loss as Partial<ClassifierHead>).W !== undefined;
}

/** Class scores for accuracy: the head's own `scores()` (logits for the softmax heads, cosines for the normalized ones). */
export function classScores(loss: ClassifierHead, emb: tf.Tensor2D): tf.Tensor2D {
  return loss.scores(emb);
}

function makeOptimizer(
  name: OptimizerName,
  lr: number,
  momentum: number,
  nesterov: boolean,
  weightDecay: number,
): tf.Optimizer {
  if (name === 'adam') return tf.train.adam(lr);
  // The coupled weight decay is part of the SGD step (one fused update, see ./sgd).
  if (name === 'sgd') return new DecayedMomentumOptimizer(lr, momentum, nesterov, weightDecay);
  throw new Error(`unknown optimizer ${JSON.stringify(name)}; expected adam or sgd`);
}

/**
 * Disposes an optimizer and what tfjs 4.22 leaves behind: MomentumOptimizer's dispose() frees its
 * momentum and accumulators but not the learning-rate scalar (`c`) it inherits from
 * SGDOptimizer, one tensor per SGD-with-momentum run.
 */
function disposeOptimizer(opt: tf.Optimizer): void {
  opt.dispose();
  const c = (opt as unknown as { c?: unknown }).c;
  if (c instanceof tf.Tensor && !c.isDisposed) c.dispose();
}

function setLearningRate(opt: tf.Optimizer, lr: number): void {
  const o = opt as unknown as { setLearningRate?: (v: number) => void; learningRate: number };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

function gatherBatch(data: TrainData, idx: ArrayLike<number>): { xb: tf.Tensor4D; yb: Int32Array } {
  const per = data.shape[0] * data.shape[1] * data.shape[2];
  const buf = new Float32Array(idx.length * per);
  const yb = new Int32Array(idx.length);
  for (let k = 0; k < idx.length; k++) {
    buf.set(data.x.subarray(idx[k] * per, (idx[k] + 1) * per), k * per);
    yb[k] = data.y[idx[k]];
  }
  return { xb: tf.tensor4d(buf, [idx.length, ...data.shape]), yb };
}

/** Everything train() derives from its options before the first step, validated in one place. */
export interface TrainPlan {
  batchSize: number;
  optName: OptimizerName;
  lr0: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  schedule: ScheduleOptions;
  seed: number;
  pairLoss: boolean;
  /** P×K batches for pair losses; undefined for classifier heads (shuffled batches). */
  pk?: { P: number; K: number };
  stepsPerEpoch: number;
  totalSteps: number;
  accuracyEvery: number;
  /** What the checkpoint records about the run. */
  runConfig: Record<string, unknown>;
}

/** A schedule's fields against their declarations (src/train/options.ts); unknown fields are errors. */
function checkSchedule(s: ScheduleOptions | undefined): void {
  if (s === undefined) return;
  const fields = s as unknown as Record<string, unknown>;
  const extra = Object.keys(s).filter((k) => !(k in SCHEDULE_OPTIONS));
  if (extra.length)
    throw new Error(
      `train: schedule has no option ${extra.join(', ')}; it takes ${Object.keys(SCHEDULE_OPTIONS).join(', ')}`,
    );
  for (const [key, decl] of Object.entries(SCHEDULE_OPTIONS) as Array<[string, OptionDecl]>)
    if (fields[key] !== undefined || decl.checkpoint === 'required')
      checkDeclared('train: schedule ', key, decl, fields[key]);
}

/** train()'s declared options (src/train/options.ts) that are given, each against its declaration. */
function checkDeclaredOptions(opts: TrainOptions): void {
  const fields = opts as unknown as Record<string, unknown>;
  for (const [key, decl] of Object.entries(TRAIN_OPTIONS) as Array<[string, OptionDecl]>) {
    // lr and seed have defaults in train() (lr's depends on the optimizer); epochs has none.
    const required = key === 'epochs';
    if (fields[key] !== undefined || required) checkDeclared('train: ', key, decl, fields[key]);
  }
}

/** Every option train() takes (the compiler checks this list against TrainOptions both ways). */
const TRAIN_OPTION_KEYS: Record<keyof TrainOptions, true> = {
  model: true,
  backbone: true,
  loss: true,
  data: true,
  epochs: true,
  batchSize: true,
  optimizer: true,
  lr: true,
  momentum: true,
  nesterov: true,
  weightDecay: true,
  schedule: true,
  pk: true,
  seed: true,
  maxStepsPerEpoch: true,
  progress: true,
  runDir: true,
  resume: true,
  meta: true,
  accuracyEvery: true,
  onEpochEnd: true,
  onStep: true,
  signal: true,
};

/** Names people reach for, and the option train() calls that. */
const TRAIN_OPTION_ALIASES: Record<string, keyof TrainOptions> = {
  learningRate: 'lr',
  epoch: 'epochs',
  batch: 'batchSize',
  batch_size: 'batchSize',
  weight_decay: 'weightDecay',
  steps: 'maxStepsPerEpoch',
};

/**
 * Checks the options against the data and works out the batches, steps and learning rate.
 * Exported for the options test (test/options.test.ts), not part of the public API.
 */
export function planTraining(opts: TrainOptions): TrainPlan {
  const unknown = Object.keys(opts).filter((k) => !(k in TRAIN_OPTION_KEYS));
  if (unknown.length)
    throw new Error(
      `train: ${unknown
        .map(
          (k) => `${JSON.stringify(k)}${TRAIN_OPTION_ALIASES[k] ? ` (did you mean ${TRAIN_OPTION_ALIASES[k]}?)` : ''}`,
        )
        .join(
          ', ',
        )} ${unknown.length > 1 ? 'are not options' : 'is not an option'}; train() takes ${Object.keys(TRAIN_OPTION_KEYS).join(', ')}`,
    );
  if (opts.progress !== undefined && !(PROGRESS_MODES as readonly unknown[]).includes(opts.progress))
    throw new Error(`train: progress must be one of ${PROGRESS_MODES.join(', ')}, got ${show(opts.progress)}`);
  const { loss, data } = opts;
  const n = data.y.length;
  const per = data.shape[0] * data.shape[1] * data.shape[2];
  if (data.x.length !== n * per)
    throw new Error(
      `train: ${data.x.length} pixel values do not match ${n} images of shape [${data.shape.join(', ')}]`,
    );
  // Every declared option given (ranges, types, values: src/train/options.ts), then combinations.
  checkDeclaredOptions(opts);
  checkSchedule(opts.schedule);
  const batchSize = opts.batchSize ?? TRAIN_OPTIONS.batchSize.default;
  const optName = opts.optimizer ?? TRAIN_OPTIONS.optimizer.default;
  const lr0 = opts.lr ?? (optName === 'adam' ? 1e-3 : 0.05);
  const accuracyEvery = opts.accuracyEvery ?? TRAIN_OPTIONS.accuracyEvery.default;
  const pairLoss = !isClassifier(loss);
  // Default P×K: as many identities as fit with K ≥ 4 (at most all of them), K filling the batch.
  const identities = new Set(Array.from(data.y)).size;
  const defaultP = Math.max(2, Math.min(identities, Math.floor(batchSize / 4)));
  const pk = opts.pk ?? (pairLoss ? { P: defaultP, K: Math.max(2, Math.floor(batchSize / defaultP)) } : undefined);
  if (pk) {
    if (identities < 2)
      throw new Error(
        `train: ${loss.name} needs images of at least 2 identities per P×K batch; the data has ${identities}`,
      );
    if (n < pk.P * pk.K) {
      throw new Error(
        `train: ${loss.name} draws P×K batches of P = ${pk.P} identities × K = ${pk.K} images = ${pk.P * pk.K}, but the data has only ${n} images; give at least ${pk.P * pk.K} images (${pk.P} identities with ${pk.K} or more each), or a smaller batchSize / pk`,
      );
    }
  } else {
    const numClasses = (loss as ClassifierHead).numClasses;
    if (typeof numClasses === 'number' && numClasses < 2)
      throw new Error(`train: a classifier head needs at least 2 classes, ${loss.name} has ${numClasses}`);
    // Every label before the first step, not at the batch that holds a bad one.
    if (typeof numClasses === 'number')
      for (let i = 0; i < opts.data.y.length; i++) {
        const v = opts.data.y[i];
        if (!(Number.isInteger(v) && v >= 0 && v < numClasses))
          throw new Error(
            `train: label ${v} at index ${i} is outside 0..${numClasses - 1}, the classes of ${loss.name} (numClasses ${numClasses}); a subset's labels 0..k−1 are its localY, not y`,
          );
      }
  }
  if (opts.pk && !(Number.isInteger(opts.pk.P) && opts.pk.P >= 2 && Number.isInteger(opts.pk.K) && opts.pk.K >= 2))
    throw new Error(
      `train: pk must be whole numbers P ≥ 2 identities × K ≥ 2 images, got P = ${opts.pk.P}, K = ${opts.pk.K}`,
    );
  const stepsPerEpochFull = pk ? Math.floor(n / (pk.P * pk.K)) : Math.ceil(n / batchSize);
  const stepsPerEpoch = Math.max(1, Math.min(stepsPerEpochFull, opts.maxStepsPerEpoch ?? Infinity));
  const schedule = opts.schedule ?? { type: 'constant' };
  if (optName === 'adam' && opts.momentum !== undefined)
    throw new Error(`train: momentum ${opts.momentum} applies to SGD only; Adam has its own moment estimates`);
  if (optName === 'adam' && opts.nesterov)
    throw new Error('train: nesterov applies to SGD with momentum only, not to Adam');
  const momentum = opts.momentum ?? TRAIN_OPTIONS.momentum.default;
  const nesterov = opts.nesterov ?? TRAIN_OPTIONS.nesterov.default;
  if (nesterov && momentum === 0) throw new Error('train: nesterov needs momentum > 0');
  const weightDecay = opts.weightDecay ?? TRAIN_OPTIONS.weightDecay.default;
  const seed = opts.seed ?? TRAIN_OPTIONS.seed.default;
  return {
    batchSize,
    optName,
    lr0,
    momentum,
    nesterov,
    weightDecay,
    schedule,
    seed,
    pairLoss,
    pk,
    stepsPerEpoch,
    totalSteps: stepsPerEpoch * opts.epochs,
    accuracyEvery,
    runConfig: {
      optimizer: optName,
      lr: lr0,
      ...(optName === 'sgd' ? { momentum, nesterov } : {}),
      weightDecay,
      batchSize,
      schedule,
      pk,
      seed,
      epochs: opts.epochs,
      maxStepsPerEpoch: opts.maxStepsPerEpoch,
      ...(opts.meta ?? {}),
    },
  };
}

/** What one step needs that stays the same for the whole run. */
interface StepContext {
  model: tf.LayersModel;
  loss: EmbeddingLoss;
  optimizer: tf.Optimizer;
  /** The variables the optimizer updates (backbone and loss). */
  vars: tf.Variable[];
  /**
   * Running state that the forward pass updates (not trained by the optimizer): the loss's
   * statistics, then the backbone's BatchNorm moving mean and variance. A rejected step puts
   * all of it back.
   */
  stateVars: tf.Variable[];
  /** How many of `stateVars` (the first ones) are the loss's: the progress line reads only those. */
  lossStateCount: number;
  /** Weight decay and how it is applied (see TrainOptions.weightDecay). */
  weightDecay: number;
  decoupledDecay: boolean;
}

/**
 * One optimizer step on a batch. The update is applied only when the loss and every gradient
 * entry are finite; otherwise the loss's running state is put back and TrainingDivergedError is thrown,
 * so the weights and state are those before the step. Returns the loss and, when asked for, the
 * batch accuracy of the step's own embeddings under that step's class weights.
 */
async function trainStep(
  ctx: StepContext,
  xb: tf.Tensor4D,
  yb: Int32Array,
  wantAccuracy: boolean,
  where: { epoch: number; step: number; lr: number },
): Promise<{ value: number; accuracy?: number }> {
  const { model, loss, optimizer, vars, stateVars } = ctx;
  let emb: tf.Tensor2D | null = null;
  // The class scores compute() derived on the way, when the head passes them (onScores).
  let scoresSeen: tf.Tensor2D | null = null;
  // Clones share the data (no copy); a rejected step assigns them back.
  const before = stateVars.map((v) => tf.clone(v));
  try {
    const { value: v, grads } = optimizer.computeGradients(() => {
      const e = model.apply(xb, { training: true }) as tf.Tensor2D;
      if (!wantAccuracy) return loss.compute(e, yb);
      emb = tf.keep(e);
      return loss.compute(e, yb, { onScores: (sc) => (scoresSeen = tf.keep(sc)) });
    }, vars);
    // One read for the loss, the gradients' finiteness and the batch accuracy. The sum of every
    // gradient entry is finite exactly when they all are (a NaN or ±Inf entry makes it NaN or
    // ±Inf; finite entries would need magnitudes near 1e34 to overflow it, where the sum of
    // squares overflows from 1e19): one pass over each gradient instead of two.
    const statsT = tf.tidy(() => {
      const parts = [tf.reshape(v, [1]), tf.reshape(tf.addN(Object.values(grads).map((g) => tf.sum(g))), [1])];
      if (emb) {
        const scores = scoresSeen ?? classScores(loss as ClassifierHead, emb);
        parts.push(
          tf.reshape(tf.mean(tf.cast(tf.equal(tf.argMax(scores, 1), tf.tensor1d(yb, 'int32')), 'float32')), [1]),
        );
      }
      return tf.concat(parts);
    });
    // Asynchronous: webgpu in Node has no synchronous read.
    const stats = await statsT.data().finally(() => statsT.dispose());
    const value = stats[0];
    const finite = Number.isFinite(value) && Number.isFinite(stats[1]);
    if (finite) applyUpdate(ctx, grads, where.lr);
    // The gradient norm, for the message, only when the step is refused.
    const gradNorm = finite ? 0 : await readGradNorm(grads);
    tf.dispose([v, ...Object.values(grads)]);
    if (!finite) {
      stateVars.forEach((sv, i) => sv.assign(before[i]));
      const cfg = loss.config();
      const sm = ['s', 'm', 'm1', 'm2', 'm3']
        .filter((k) => k in cfg)
        .map((k) => `${k} = ${cfg[k]}`)
        .join(', ');
      throw new TrainingDivergedError(
        where.epoch,
        where.step,
        value,
        `loss = ${value}, gradient norm = ${gradNorm}. Try a lower learning rate (now ${where.lr.toPrecision(3)})${sm ? `, or check the loss's scale and margin (${sm})` : ''}, and check the inputs for NaN`,
      );
    }
    return { value, accuracy: emb ? stats[2] : undefined };
  } finally {
    tf.dispose(before);
    if (emb) (emb as tf.Tensor).dispose();
    if (scoresSeen) (scoresSeen as tf.Tensor).dispose();
  }
}

/** ‖g‖ over every gradient tensor (NaN or Infinity for a diverged step). */
async function readGradNorm(grads: tf.NamedTensorMap): Promise<number> {
  const t = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))));
  return (await t.data().finally(() => t.dispose()))[0];
}

/** Weight decay (coupled for SGD, inside its optimizer; decoupled for Adam), then the optimizer's step. */
function applyUpdate(ctx: StepContext, grads: tf.NamedTensorMap, lr: number): void {
  const { optimizer, vars, weightDecay } = ctx;
  if (weightDecay !== 0 && ctx.decoupledDecay) {
    // AdamW: w ← w·(1 − lr·wd), then the Adam step (PyTorch's order).
    for (const w of vars) tf.tidy(() => w.assign(tf.mul(w, 1 - lr * weightDecay)));
  }
  optimizer.applyGradients(grads);
}

/** A warning when a classifier's final training accuracy is at chance level (Adam can get there without NaN). */
function chanceLevelWarning(loss: EmbeddingLoss, history: EpochRow[], lr0: number): string | null {
  const last = history[history.length - 1];
  const classes = (loss as Partial<ClassifierHead>).numClasses;
  if (
    isClassifier(loss) &&
    last &&
    typeof classes === 'number' &&
    Number.isFinite(last.accuracy) &&
    last.accuracy <= 1.5 / classes &&
    history.length >= 2
  )
    return `final training accuracy ${(100 * last.accuracy).toFixed(1)}% is at chance level (1/${classes} = ${(100 / classes).toFixed(1)}%) after ${history.length} epochs: the model did not learn. Try a lower learning rate (now ${lr0}) or check the labels.`;
  return null;
}

/**
 * The order a classifier head sees the n training images in one epoch: a Fisher–Yates shuffle
 * drawn from the run's generator (seeded by `seed`, one shuffle per epoch and nothing else drawn
 * from it). The PyTorch twin's export replays it with this function.
 */
export function epochOrder(rng: Rng, n: number): number[] {
  return rng.shuffle(Array.from({ length: n }, (_, i) => i)) as number[];
}

/** One epoch of steps: shuffled (or P×K) batches, progress after each step; returns the epoch's row. */
async function runEpoch(
  opts: TrainOptions,
  plan: TrainPlan,
  ctx: StepContext,
  rng: Rng,
  reporter: ProgressReporter,
  epoch: number,
  firstStep: number,
): Promise<EpochRow> {
  const { data, loss } = opts;
  const { batchSize, lr0, schedule, pk, stepsPerEpoch, totalSteps } = plan;
  const n = data.y.length;
  let step = firstStep;
  const t0 = Date.now();
  const order = pk ? null : epochOrder(rng, n);
  const pkList = pk ? pkBatches(data.y, pk.P, pk.K, rng.int(2 ** 31)) : null;
  let lossSum = 0;
  let accSum = 0;
  let accCount = 0;
  let seen = 0;
  for (let s = 0; s < stepsPerEpoch; s++) {
    const lr = learningRateAt(lr0, schedule, step, stepsPerEpoch, totalSteps);
    setLearningRate(ctx.optimizer, lr);
    const idx = pkList ? pkList[s] : order!.slice(s * batchSize, Math.min(n, (s + 1) * batchSize));
    const { xb, yb } = gatherBatch(data, idx);
    const wantAccuracy = !plan.pairLoss && plan.accuracyEvery > 0 && s % plan.accuracyEvery === 0;
    let result: { value: number; accuracy?: number };
    try {
      result = await trainStep(ctx, xb, yb, wantAccuracy, { epoch, step, lr });
    } finally {
      xb.dispose();
    }
    if (result.accuracy !== undefined) {
      accSum += result.accuracy;
      accCount++;
    }
    loss.step();
    // The loss's running state (CurricularFace t, AdaFace norm statistics) is read for the
    // progress line; where only asynchronous reads exist, read it that way first (it stays cached).
    await readable(ctx.stateVars.slice(0, ctx.lossStateCount));
    step++;
    lossSum += result.value;
    seen += idx.length;
    if (opts.onStep)
      await opts.onStep({
        epoch,
        step: s + 1,
        globalStep: step,
        loss: result.value,
        lr,
        ...(result.accuracy !== undefined ? { accuracy: result.accuracy } : {}),
      });
    const elapsed = (Date.now() - t0) / 1000;
    const stepsLeft = (opts.epochs - epoch) * stepsPerEpoch + (stepsPerEpoch - s - 1);
    reporter.update({
      epoch,
      epochs: opts.epochs,
      step: s + 1,
      steps: stepsPerEpoch,
      loss: lossSum / (s + 1),
      accuracy: accCount ? accSum / accCount : undefined,
      samplesPerSec: seen / Math.max(elapsed, 1e-6),
      eta: (stepsLeft * elapsed) / (s + 1),
      extra: lossStats(loss),
    });
    // Let the event loop turn: notebook output (progress) is sent, interrupts are seen.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (opts.signal?.aborted) throw new TrainingInterruptedError(epoch, s + 1, 0, undefined);
  }
  const seconds = (Date.now() - t0) / 1000;
  const row: EpochRow = {
    epoch,
    loss: lossSum / stepsPerEpoch,
    accuracy: accCount ? accSum / accCount : NaN,
    lr: learningRateAt(lr0, schedule, step - 1, stepsPerEpoch, totalSteps),
    samplesPerSec: seen / seconds,
    seconds,
    ...lossStats(loss),
  };
  reporter.endEpoch({
    epoch,
    epochs: opts.epochs,
    step: stepsPerEpoch,
    steps: stepsPerEpoch,
    loss: row.loss,
    accuracy: accCount ? row.accuracy : undefined,
    samplesPerSec: row.samplesPerSec,
    eta: (opts.epochs - epoch) * seconds,
    extra: lossStats(loss),
  });
  return row;
}

/** Trains `model` with `loss`; returns the per-epoch history. */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const plan = planTraining(opts);
  // Before anything is read or built: a folder that cannot take a checkpoint, or that another
  // process is writing, is refused now, not after an epoch.
  if (!opts.runDir) return trainPlanned(opts, plan);
  checkRunFolder(opts.runDir);
  const unlock = lockFolder(opts.runDir, 'run folder', (l) => console.warn(`warning: ${l}`));
  try {
    const temps = removeStaleFolderTemps(opts.runDir);
    if (temps.length)
      console.warn(
        `${opts.runDir}: removed ${temps.length} temp file${temps.length > 1 ? 's' : ''} that an interrupted save left (${temps.join(', ')})`,
      );
    return await trainPlanned(opts, plan);
  } finally {
    unlock();
  }
}

async function trainPlanned(opts: TrainOptions, plan: TrainPlan): Promise<TrainResult> {
  const { model, loss } = opts;
  const optimizer = makeOptimizer(plan.optName, plan.lr0, plan.momentum, plan.nesterov, plan.weightDecay);
  const rng = new Rng(plan.seed);
  const history: EpochRow[] = [];
  let step = 0;
  let startEpoch = 1;
  if (opts.resume) {
    const ck = readCheckpoint(opts.resume);
    if (opts.epochs <= ck.epoch)
      throw new Error(
        `train: epochs ${opts.epochs} with resume: the checkpoint ${opts.resume} is already at epoch ${ck.epoch}; epochs is the total to reach, so nothing would train`,
      );
    // The step count drives the schedule and the margin's warm-up: it must be the one these data
    // and this batch size give for the epochs done.
    if (ck.step !== ck.epoch * plan.stepsPerEpoch)
      throw new Error(
        `checkpoint ${opts.resume}: step ${ck.step} is not epoch ${ck.epoch} × ${plan.stepsPerEpoch} steps per epoch (${opts.data.y.length} images, batch ${plan.batchSize}${opts.maxStepsPerEpoch ? `, at most ${opts.maxStepsPerEpoch} per epoch` : ''}); the checkpoint was edited, or the run's data or batch size changed`,
      );
    loadModelWeights(model, ck.model, opts.resume);
    loadLossState(loss, ck.lossState, opts.resume);
    loss.loadConfigState?.(ck.loss);
    // The optimizer's slots: its step count, then one (momentum) or two (Adam's moments) per
    // trained tensor. A checkpoint with another count would silently restart them.
    const trained = model.trainableWeights.length + loss.trainableVariables.length;
    const slots = (plan.optName === 'adam' ? 2 : 1) * trained;
    if (ck.optimizer.length !== 1 + slots || ck.optimizer[0].name !== 'iter')
      throw new Error(
        `checkpoint ${opts.resume}: optimizer must hold the step count "iter" and ${slots} slot tensors (${plan.optName}, ${trained} trained tensors), got ${ck.optimizer.length} tensors${ck.optimizer.length ? ` starting with ${JSON.stringify(ck.optimizer[0].name)}` : ''}`,
      );
    await optimizer.setWeights(optimizerWeights(ck));
    restoreOptimizerState(optimizer, ck, opts.resume);
    history.push(...(ck.history as EpochRow[]));
    step = ck.step;
    startEpoch = ck.epoch + 1;
    rng.seedState = ck.rngState;
  }
  const trainableSet = new Set<tf.Variable>(loss.trainableVariables);
  const lossState = Object.values(loss.stateDict()).filter((v) => !trainableSet.has(v));
  const ctx: StepContext = {
    model,
    loss,
    optimizer,
    vars: [...model.trainableWeights.map((w) => w.read() as tf.Variable), ...loss.trainableVariables],
    stateVars: [...lossState, ...model.nonTrainableWeights.map((w) => w.read() as tf.Variable)],
    lossStateCount: lossState.length,
    weightDecay: plan.weightDecay,
    decoupledDecay: plan.optName === 'adam',
  };
  const reporter = new ProgressReporter(opts.progress ?? 'auto');
  const checkpointFile = opts.runDir ? path.join(opts.runDir, 'checkpoint.json') : undefined;
  loss.training = true;

  // The last epoch whose checkpoint is on disk: the resumed one, or none yet.
  let savedEpoch = opts.resume ? startEpoch - 1 : 0;
  try {
    for (let epoch = startEpoch; epoch <= opts.epochs; epoch++) {
      let row: EpochRow;
      try {
        row = await runEpoch(opts, plan, ctx, rng, reporter, epoch, step);
      } catch (e) {
        if (e instanceof TrainingInterruptedError) {
          throw new TrainingInterruptedError(e.epoch, e.step, savedEpoch, checkpointFile);
        }
        throw e;
      }
      step += plan.stepsPerEpoch;
      history.push(row);
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (checkpointFile) {
        await saveCheckpoint({
          file: checkpointFile,
          model,
          backbone: opts.backbone,
          loss,
          optimizer,
          config: plan.runConfig,
          epoch,
          step,
          rngState: rng.seedState,
          history: history as unknown as Array<Record<string, number>>,
        });
        savedEpoch = epoch;
      }
      opts.onEpochEnd?.(row);
      if (opts.signal?.aborted && epoch < opts.epochs)
        throw new TrainingInterruptedError(epoch, plan.stepsPerEpoch, savedEpoch, checkpointFile);
    }
  } finally {
    // Also after a diverged step: the same loss object can train again.
    disposeOptimizer(optimizer);
    loss.training = false;
  }
  const warning = chanceLevelWarning(loss, history, plan.lr0);
  const warnings = warning ? [warning] : [];
  for (const w of warnings) console.warn(`warning: ${w}`);
  return {
    warnings,
    history,
    steps: step,
    checkpoint: checkpointFile,
    historyFrame: () => {
      const dfd = requireDanfo('historyFrame()');
      return new dfd.DataFrame(history.map((r) => ({ ...r })));
    },
  };
}

/**
 * One training loop for every loss: classifier heads (softmax family, with their W) and
 * pair/triplet losses (P×K batches). Gradients are computed, checked for NaN/Inf, and only
 * then applied — a diverging run stops with the step, the loss and a hint, and the weights are
 * left as they were before the bad step.
 */
import * as path from 'path';
import * as tf from '../tf';
import { readable } from '../util/read';
import { EmbeddingLoss, ClassifierHead, lossStats } from '../losses';
import { pkBatches } from '../data/pairs';
import { Rng } from '../util/random';
import { requireDanfo } from '../util/danfo';
import { lockFolder, removeStaleFolderTemps } from '../util/fs';
import { ProgressReporter } from './progress';
import {
  loadLossState,
  loadModelWeights,
  optimizerWeights,
  readCheckpoint,
  checkRunFolder,
  restoreOptimizerState,
  saveCheckpoint,
} from './checkpoint';
import { OPTIMIZER_NAMES, OptimizerName, SCHEDULE_TYPES } from './options';
import { learningRateAt, ScheduleOptions } from './schedule';
import { disposeOptimizer, makeOptimizer, setLearningRate } from './optimizer';
import { isClassifier, planTraining, TrainPlan } from './plan';
import type { EpochRow, StepRow, TrainData, TrainOptions, TrainResult } from './types';

// What the trainer's module has always exported, from the modules it is now split into.
export { OPTIMIZER_NAMES, SCHEDULE_TYPES, learningRateAt, planTraining };
export type { OptimizerName, ScheduleOptions, TrainPlan, EpochRow, StepRow, TrainData, TrainOptions, TrainResult };

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

/** Class scores for accuracy: the head's own `scores()` (logits for the softmax heads, cosines for the normalized ones). */
export function classScores(loss: ClassifierHead, emb: tf.Tensor2D): tf.Tensor2D {
  return loss.scores(emb);
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

/**
 * Continues a run from `opts.resume`: the weights, the loss's state and config state, the
 * optimizer's slots and the batch order's random state, after checking that the checkpoint fits
 * this run (its step count, its optimizer slots). Returns the history and where it stood.
 */
async function resumeRun(
  opts: TrainOptions,
  plan: TrainPlan,
  optimizer: tf.Optimizer,
  rng: Rng,
): Promise<{ history: EpochRow[]; step: number; epoch: number }> {
  const { model, loss } = opts;
  const file = opts.resume!;
  const ck = readCheckpoint(file);
  if (opts.epochs <= ck.epoch)
    throw new Error(
      `train: epochs ${opts.epochs} with resume: the checkpoint ${file} is already at epoch ${ck.epoch}; epochs is the total to reach, so nothing would train`,
    );
  // The step count drives the schedule and the margin's warm-up: it must be the one these data
  // and this batch size give for the epochs done.
  if (ck.step !== ck.epoch * plan.stepsPerEpoch)
    throw new Error(
      `checkpoint ${file}: step ${ck.step} is not epoch ${ck.epoch} × ${plan.stepsPerEpoch} steps per epoch (${opts.data.y.length} images, batch ${plan.batchSize}${opts.maxStepsPerEpoch ? `, at most ${opts.maxStepsPerEpoch} per epoch` : ''}); the checkpoint was edited, or the run's data or batch size changed`,
    );
  loadModelWeights(model, ck.model, file);
  loadLossState(loss, ck.lossState, file);
  loss.loadConfigState?.(ck.loss);
  // The optimizer's slots: its step count, then one (momentum) or two (Adam's moments) per
  // trained tensor. A checkpoint with another count would silently restart them.
  const trained = model.trainableWeights.length + loss.trainableVariables.length;
  const slots = (plan.optName === 'adam' ? 2 : 1) * trained;
  if (ck.optimizer.length !== 1 + slots || ck.optimizer[0].name !== 'iter')
    throw new Error(
      `checkpoint ${file}: optimizer must hold the step count "iter" and ${slots} slot tensors (${plan.optName}, ${trained} trained tensors), got ${ck.optimizer.length} tensors${ck.optimizer.length ? ` starting with ${JSON.stringify(ck.optimizer[0].name)}` : ''}`,
    );
  await optimizer.setWeights(optimizerWeights(ck));
  restoreOptimizerState(optimizer, ck, file);
  rng.seedState = ck.rngState;
  return { history: ck.history as EpochRow[], step: ck.step, epoch: ck.epoch };
}

/** What every step of the run shares: the variables trained, the state kept, the decay's kind. */
function stepContext(
  model: tf.LayersModel,
  loss: EmbeddingLoss,
  optimizer: tf.Optimizer,
  plan: TrainPlan,
): StepContext {
  const trainableSet = new Set<tf.Variable>(loss.trainableVariables);
  const lossState = Object.values(loss.stateDict()).filter((v) => !trainableSet.has(v));
  return {
    model,
    loss,
    optimizer,
    vars: [...model.trainableWeights.map((w) => w.read() as tf.Variable), ...loss.trainableVariables],
    stateVars: [...lossState, ...model.nonTrainableWeights.map((w) => w.read() as tf.Variable)],
    lossStateCount: lossState.length,
    weightDecay: plan.weightDecay,
    decoupledDecay: plan.optName === 'adam',
  };
}

async function trainPlanned(opts: TrainOptions, plan: TrainPlan): Promise<TrainResult> {
  const { model, loss } = opts;
  const optimizer = makeOptimizer(plan.optName, plan.lr0, plan.momentum, plan.nesterov, plan.weightDecay);
  const rng = new Rng(plan.seed);
  const history: EpochRow[] = [];
  const resumed = opts.resume ? await resumeRun(opts, plan, optimizer, rng) : null;
  if (resumed) history.push(...resumed.history);
  let step = resumed?.step ?? 0;
  const startEpoch = resumed ? resumed.epoch + 1 : 1;
  const ctx = stepContext(model, loss, optimizer, plan);
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

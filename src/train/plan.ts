/**
 * Everything train() works out before its first step, checked in one place: the options against
 * their declarations (./options), unknown keys, the data against the loss, the batches (shuffled,
 * or P×K for pair losses), the steps and the optimizer's settings.
 */
import type { ClassifierHead, EmbeddingLoss } from '../losses';
import { PROGRESS_MODES } from './progress';
import { OptimizerName, TRAIN_OPTIONS } from './options';
import { checkDeclared, OptionDecl, showValue as show } from '../util/option-decl';
import { checkSchedule, ScheduleOptions } from './schedule';
import type { TrainOptions } from './types';

/** Whether the loss is a classifier head (it has class weights W); the others are pair losses. */
export function isClassifier(loss: EmbeddingLoss): loss is ClassifierHead {
  return (loss as Partial<ClassifierHead>).W !== undefined;
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
  checkOptionKeys(opts);
  if (opts.progress !== undefined && !(PROGRESS_MODES as readonly unknown[]).includes(opts.progress))
    throw new Error(`train: progress must be one of ${PROGRESS_MODES.join(', ')}, got ${show(opts.progress)}`);
  const { data } = opts;
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
  const accuracyEvery = opts.accuracyEvery ?? TRAIN_OPTIONS.accuracyEvery.default;
  const pairLoss = !isClassifier(opts.loss);
  const pk = planBatches(opts, batchSize, pairLoss);
  const stepsPerEpochFull = pk ? Math.floor(n / (pk.P * pk.K)) : Math.ceil(n / batchSize);
  const stepsPerEpoch = Math.max(1, Math.min(stepsPerEpochFull, opts.maxStepsPerEpoch ?? Infinity));
  const schedule = opts.schedule ?? { type: 'constant' };
  const o = planOptimizer(opts);
  const seed = opts.seed ?? TRAIN_OPTIONS.seed.default;
  return {
    batchSize,
    ...o,
    schedule,
    seed,
    pairLoss,
    pk,
    stepsPerEpoch,
    totalSteps: stepsPerEpoch * opts.epochs,
    accuracyEvery,
    runConfig: {
      optimizer: o.optName,
      lr: o.lr0,
      ...(o.optName === 'sgd' ? { momentum: o.momentum, nesterov: o.nesterov } : {}),
      weightDecay: o.weightDecay,
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

/** Unknown keys of train()'s options, each named, with the option people meant where it is a known slip. */
function checkOptionKeys(opts: TrainOptions): void {
  const unknown = Object.keys(opts).filter((k) => !(k in TRAIN_OPTION_KEYS));
  if (!unknown.length) return;
  const named = unknown.map(
    (k) => `${JSON.stringify(k)}${TRAIN_OPTION_ALIASES[k] ? ` (did you mean ${TRAIN_OPTION_ALIASES[k]}?)` : ''}`,
  );
  throw new Error(
    `train: ${named.join(', ')} ${unknown.length > 1 ? 'are not options' : 'is not an option'}; train() takes ${Object.keys(TRAIN_OPTION_KEYS).join(', ')}`,
  );
}

/**
 * The batches: P×K for a pair loss (default P = as many identities as fit with K ≥ 4, at most
 * all of them, and K filling the batch), checked against the data; for a classifier head, every
 * label checked against its classes before the first step. Returns P×K, or undefined.
 */
function planBatches(opts: TrainOptions, batchSize: number, pairLoss: boolean): { P: number; K: number } | undefined {
  const { loss, data } = opts;
  const n = data.y.length;
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
      for (let i = 0; i < data.y.length; i++) {
        const v = data.y[i];
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
  return pk;
}

/** The optimizer's settings with their defaults, and the combinations that do not apply refused. */
function planOptimizer(
  opts: TrainOptions,
): Pick<TrainPlan, 'optName' | 'lr0' | 'momentum' | 'nesterov' | 'weightDecay'> {
  const optName = opts.optimizer ?? TRAIN_OPTIONS.optimizer.default;
  if (optName === 'adam' && opts.momentum !== undefined)
    throw new Error(`train: momentum ${opts.momentum} applies to SGD only; Adam has its own moment estimates`);
  if (optName === 'adam' && opts.nesterov)
    throw new Error('train: nesterov applies to SGD with momentum only, not to Adam');
  const momentum = opts.momentum ?? TRAIN_OPTIONS.momentum.default;
  const nesterov = opts.nesterov ?? TRAIN_OPTIONS.nesterov.default;
  if (nesterov && momentum === 0) throw new Error('train: nesterov needs momentum > 0');
  return {
    optName,
    lr0: opts.lr ?? (optName === 'adam' ? 1e-3 : 0.05),
    momentum,
    nesterov,
    weightDecay: opts.weightDecay ?? TRAIN_OPTIONS.weightDecay.default,
  };
}

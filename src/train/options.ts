/**
 * The training options, declared once (see src/util/option-decl.ts): `train()` checks its
 * options against them, the train command derives its flags from them, and the checkpoint
 * schema checks a stored `config` with them. With the backbone's (src/models/options.ts) they
 * are every option a run is made of; `TRAINING_OPTIONS` lists them all, each with where it sits.
 */
import type { OptionDecl } from '../util/option-decl';
import { BACKBONE_OPTIONS } from '../models/options';

/** The optimizers train() takes (the command line lists these). */
export const OPTIMIZER_NAMES = ['adam', 'sgd'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

/** The learning-rate schedules train() takes (the command line lists these). */
export const SCHEDULE_TYPES = ['constant', 'step', 'cosine'] as const;

/** train()'s own options (TrainOptions), kept in a checkpoint's `config`. */
export const TRAIN_OPTIONS = {
  epochs: {
    type: 'number',
    range: { int: true, min: 1 },
    help: 'epochs: the total to reach (with --resume: default the total the run was started with)',
    cliDefault: '3',
    flag: 'epochs',
    checkpoint: 'required',
  },
  batchSize: {
    type: 'number',
    range: { int: true, min: 2 },
    default: 128,
    help: 'batch size',
    cliDefault: '128',
    flag: 'batch',
    checkpoint: 'required',
  },
  optimizer: {
    type: 'enum',
    values: OPTIMIZER_NAMES,
    default: 'adam',
    help: `${OPTIMIZER_NAMES.join(', ')} (sgd: with momentum)`,
    cliDefault: 'adam',
    flag: 'optimizer',
    checkpoint: 'required',
  },
  lr: {
    type: 'number',
    range: { min: 0, minOpen: true },
    help: 'learning rate (default 1e-3 adam, 0.05 sgd)',
    flag: 'lr',
    checkpoint: 'required',
  },
  momentum: {
    type: 'number',
    range: { min: 0, max: 1, maxOpen: true },
    default: 0.9,
    help: 'SGD momentum (SGD only)',
    flag: 'momentum',
    checkpoint: 'optional',
  },
  nesterov: {
    type: 'boolean',
    default: false,
    help: 'Nesterov momentum (SGD only)',
    flag: 'nesterov',
    checkpoint: 'optional',
  },
  weightDecay: {
    type: 'number',
    range: { min: 0, max: 1, maxOpen: true },
    default: 0,
    help: 'weight decay: coupled L2 with sgd (PyTorch SGD), decoupled with adam (AdamW)',
    flag: 'weight-decay',
    checkpoint: 'optional',
  },
  seed: {
    type: 'number',
    range: { int: true, min: 0 },
    default: 0,
    help: 'seed for split, init and shuffling',
    cliDefault: '1',
    flag: 'seed',
    checkpoint: 'required',
  },
  maxStepsPerEpoch: {
    type: 'number',
    range: { int: true, min: 1 },
    help: 'cap on steps per epoch',
    flag: 'max-steps',
    checkpoint: 'optional',
  },
  accuracyEvery: {
    type: 'number',
    range: { int: true, min: 0 },
    default: 1,
    help: 'batch accuracy every n steps (0: off)',
  },
} as const satisfies Record<string, OptionDecl>;

/** The learning-rate schedule's fields (ScheduleOptions), kept in a checkpoint's `config.schedule`. */
export const SCHEDULE_OPTIONS = {
  type: {
    type: 'enum',
    values: SCHEDULE_TYPES,
    default: 'constant',
    help: SCHEDULE_TYPES.join(', '),
    cliDefault: 'constant',
    flag: 'schedule',
    checkpoint: 'required',
  },
  warmupSteps: {
    type: 'number',
    range: { int: true, min: 0 },
    default: 0,
    help: 'warm-up steps',
    cliDefault: '0',
    flag: 'warmup',
    checkpoint: 'optional',
  },
  stepEpochs: {
    type: 'number',
    range: { int: true, min: 1 },
    default: 10,
    help: "'step': multiply the lr by gamma every stepEpochs epochs",
    checkpoint: 'optional',
  },
  gamma: {
    type: 'number',
    range: { min: 0, minOpen: true },
    default: 0.1,
    help: "'step': the lr's factor at each step",
    checkpoint: 'optional',
  },
  minFactor: {
    type: 'number',
    range: { min: 0, max: 1 },
    default: 0,
    help: "'cosine': the final lr as a fraction of lr",
    checkpoint: 'optional',
  },
} as const satisfies Record<string, OptionDecl>;

/** The data options the train command records in `config` (the named data sets' split). */
export const DATA_OPTIONS = {
  trainPerClass: {
    type: 'number',
    range: { int: true, min: 1 },
    help: 'training images per seen class (default: all)',
    flag: 'train-per-class',
    checkpoint: 'optional',
  },
} as const satisfies Record<string, OptionDecl>;

/** Where an option sits: TrainOptions and `config`, ScheduleOptions and `config.schedule`, BackboneSpec and `backbone`, or the data's split in `config`. */
export type OptionScope = 'config' | 'schedule' | 'backbone' | 'data';

export interface ScopedOption {
  scope: OptionScope;
  key: string;
  decl: OptionDecl;
}

/** Every declared option of a run, with its scope. */
export const TRAINING_OPTIONS: readonly ScopedOption[] = [
  ...Object.entries(TRAIN_OPTIONS).map(([key, decl]) => ({ scope: 'config' as const, key, decl })),
  ...Object.entries(SCHEDULE_OPTIONS).map(([key, decl]) => ({ scope: 'schedule' as const, key, decl })),
  ...Object.entries(BACKBONE_OPTIONS).map(([key, decl]) => ({ scope: 'backbone' as const, key, decl })),
  ...Object.entries(DATA_OPTIONS).map(([key, decl]) => ({ scope: 'data' as const, key, decl })),
];

/** The declared option a train command flag sets, or undefined. */
export function optionOfFlag(flag: string): ScopedOption | undefined {
  return TRAINING_OPTIONS.find((o) => o.decl.flag === flag);
}

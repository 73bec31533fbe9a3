/** What train() takes and returns: its options, data, per-step and per-epoch rows, and result. */
import type * as tf from '../tf';
import type { BackboneSpec } from '../models';
import type { EmbeddingLoss } from '../losses';
import type { DataFrameLike } from '../util/dataframe';
import type { ProgressMode } from './progress';
import type { OptimizerName } from './options';
import type { ScheduleOptions } from './schedule';

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
